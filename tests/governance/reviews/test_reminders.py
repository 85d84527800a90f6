"""Reminder emails go through a real SMTP server the test starts (aiosmtpd on 127.0.0.1): one
per reviewer with pending items, at each of the campaign's marks, once per mark."""

from __future__ import annotations

import socket
from datetime import timedelta
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from django.utils import timezone

from governance.reviews import services
from governance.reviews.models import Campaign
from tests.governance.reviews.conftest import open_named

pytestmark = pytest.mark.django_db


class Inbox:
    """aiosmtpd handler that keeps every message it receives."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


@pytest.fixture(scope="module")
def smtp_server():
    inbox = Inbox()
    with socket.socket() as probe:  # a free port (aiosmtpd's start() connects to the one given)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield controller, inbox
    finally:
        controller.stop()


@pytest.fixture
def inbox(smtp_server, settings):
    controller, inbox = smtp_server
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.CONSOLE_BASE_URL = "https://console.acme.example"
    inbox.messages.clear()
    return inbox


def test_reviewers_with_pending_items_are_reminded_once_at_each_mark(estate, admin_user, inbox):
    now = timezone.now()
    campaign = open_named(
        admin_user,
        [estate.owner, estate.other],
        due_at=now + timedelta(days=10),
        remind_days_before=[7, 1],
    )
    # Nico decides all of his: he is not reminded.
    for item in campaign.items.filter(reviewer=estate.other):
        services.decide(item=item, by=estate.other, decision="revoke")

    assert services.send_reminders(now) == {}  # before the first mark (due in 10 days)
    at_seven = now + timedelta(days=3, hours=1)
    assert services.send_reminders(at_seven) == {campaign.pk: 1}
    assert services.send_reminders(at_seven + timedelta(hours=1)) == {}  # that mark is sent
    at_one = now + timedelta(days=9, hours=1)
    assert services.send_reminders(at_one) == {campaign.pk: 1}
    assert services.send_reminders(now + timedelta(days=11)) == {}  # past due: no more

    assert len(inbox.messages) == 2
    recipients, message = inbox.messages[0]
    assert recipients == ["Olga@acme.example"]
    assert message["Subject"] == "Access review due in 6 days: Q4 review"
    body = message.get_payload(decode=True).decode()
    assert "You have 2 access review items to decide" in body
    assert f"https://console.acme.example/governance/reviews/mine/?campaign={campaign.pk}" in body
    assert inbox.messages[1][1]["Subject"].startswith("Access review due in 0 days")


def test_a_failed_send_leaves_the_mark_to_the_next_tick(estate, admin_user, inbox, settings):
    now = timezone.now()
    campaign = open_named(
        admin_user, [estate.owner], due_at=now + timedelta(days=2), remind_days_before=[7]
    )
    port, settings.EMAIL_PORT = settings.EMAIL_PORT, 1  # nothing listens there: refused

    assert services.send_reminders(now) == {}
    assert Campaign.objects.get(pk=campaign.pk).last_reminded_at is None

    settings.EMAIL_PORT = port
    assert services.send_reminders(now + timedelta(minutes=5)) == {campaign.pk: 1}
    assert [to for to, _ in inbox.messages] == [["Olga@acme.example"]]
