"""An SMTP server (aiosmtpd) on 127.0.0.1: each message parsed with the email package."""

from __future__ import annotations

import email
import email.policy
from dataclasses import dataclass

from aiosmtpd.controller import Controller

from tests.receivers.inbox import Receiver


@dataclass
class ReceivedMail:
    mail_from: str
    rcpt_tos: list[str]
    message: email.message.EmailMessage

    @property
    def text(self) -> str:
        return self.message.get_body(preferencelist=("plain",)).get_content()


class _Handler:
    def __init__(self, receiver):
        self.receiver = receiver

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.receiver.inbox.add(ReceivedMail(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"


class SmtpReceiver(Receiver):
    """`with SmtpReceiver() as smtp:` then point EMAIL_HOST/EMAIL_PORT at smtp.host/smtp.port."""

    host = "127.0.0.1"

    def __init__(self):
        super().__init__()
        self._controller = None

    def _start(self):
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port)
        self._controller.start()

    def _stop(self):
        self._controller.stop()
