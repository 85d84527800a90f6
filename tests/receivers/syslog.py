"""A syslog receiver on 127.0.0.1, TCP or TLS: octet-counted RFC 5424 frames (RFC 6587
§3.4.1), each parsed strictly, its MSG parsed as CEF when it is one."""

from __future__ import annotations

import re
import socketserver
import ssl
import threading
from dataclasses import dataclass, field

from tests.receivers.cef import parse_cef
from tests.receivers.inbox import Receiver
from tests.receivers.tls import TlsMaterial

_HEADER = re.compile(
    r"<(?P<pri>\d{1,3})>1 (?P<timestamp>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z) "
    r"(?P<hostname>[!-~]{1,255}) (?P<app>[!-~]{1,48}) (?P<procid>[!-~]{1,128}) "
    r"(?P<msgid>[!-~]{1,32}) "
)
_SD_ELEMENT = re.compile(
    r'\[(?P<id>[^ =\]"]{1,32})(?P<params>(?: [^ =\]"]{1,32}="(?:[^"\\\]]|\\["\\\]])*")*)\]'
)
_SD_PARAM = re.compile(r' ([^ =\]"]{1,32})="((?:[^"\\\]]|\\["\\\]])*)"')
BOM = "\ufeff"
MAX_FRAME = 64 * 1024


@dataclass
class SyslogMessage:
    facility: int
    severity: int
    timestamp: str
    hostname: str
    app_name: str
    procid: str
    msgid: str
    structured_data: dict[str, dict[str, str]]
    msg: str
    cef: dict | None = None
    raw: bytes = field(default=b"", repr=False)


def parse_syslog(frame: bytes) -> SyslogMessage:
    """One RFC 5424 message; ValueError for anything that is not."""
    text = frame.decode("utf-8")
    header = _HEADER.match(text)
    if not header:
        raise ValueError(f"not an RFC 5424 header: {text[:120]!r}")
    pri = int(header["pri"])
    if pri > 191:
        raise ValueError(f"PRI out of range: {pri}")
    rest = text[header.end() :]
    sd: dict[str, dict[str, str]] = {}
    if rest.startswith("-"):
        rest = rest[1:]
    else:
        while rest.startswith("["):
            element = _SD_ELEMENT.match(rest)
            if not element:
                raise ValueError(f"bad structured data: {rest[:120]!r}")
            sd[element["id"]] = {
                name: re.sub(r'\\(["\\\]])', r"\1", value)
                for name, value in _SD_PARAM.findall(element["params"])
            }
            rest = rest[element.end() :]
        if not sd:
            raise ValueError("no structured data and no NILVALUE")
    if rest and not rest.startswith(" "):
        raise ValueError(f"no space before MSG: {rest[:40]!r}")
    msg = rest[1:]
    if msg.startswith(BOM):
        msg = msg[1:]
    message = SyslogMessage(
        facility=pri // 8,
        severity=pri % 8,
        timestamp=header["timestamp"],
        hostname=header["hostname"],
        app_name=header["app"],
        procid=header["procid"],
        msgid=header["msgid"],
        structured_data=sd,
        msg=msg,
        raw=frame,
    )
    if msg.startswith("CEF:"):
        message.cef = parse_cef(msg)
    return message


def read_frames(stream):
    """Octet-counted frames from a binary file-like object until EOF."""
    while True:
        digits = b""
        while True:
            char = stream.read(1)
            if not char:
                if digits:
                    raise ValueError("connection closed inside a frame length")
                return
            if char == b" ":
                break
            if not char.isdigit() or len(digits) > 6:
                raise ValueError(f"bad frame length {digits + char!r}")
            digits += char
        length = int(digits)
        if not 0 < length <= MAX_FRAME:
            raise ValueError(f"frame length out of range: {length}")
        frame = stream.read(length)
        if len(frame) != length:
            raise ValueError("connection closed inside a frame")
        yield frame


class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        receiver = self.server.receiver
        try:
            for frame in read_frames(self.rfile):
                try:
                    receiver.inbox.add(parse_syslog(frame))
                except ValueError as exc:
                    receiver.rejected.add((str(exc), frame))
        except (ValueError, OSError, ssl.SSLError) as exc:
            receiver.rejected.add((str(exc), b""))


class _Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True

    def __init__(self, receiver, tls: TlsMaterial | None):
        self.receiver = receiver
        self.context = tls.server_context() if tls else None
        super().__init__(("127.0.0.1", receiver.port), _Handler)

    def get_request(self):
        sock, address = self.socket.accept()
        if self.context:
            # The handshake in the handler's thread would be nicer; here it is bounded instead.
            sock.settimeout(10)
            try:
                sock = self.context.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError) as exc:
                self.receiver.rejected.add((f"TLS handshake failed: {exc}", b""))
                sock.close()
                raise OSError("handshake failed") from None
        return sock, address


class SyslogReceiver(Receiver):
    """`SyslogReceiver()` for TCP, `SyslogReceiver(tls=make_tls_material())` for TLS; messages
    are SyslogMessage with `.cef` parsed."""

    def __init__(self, tls: TlsMaterial | None = None):
        super().__init__()
        self.tls = tls
        self._server = None
        self._thread = None

    def _start(self):
        self._server = _Server(self, self.tls)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def _stop(self):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __repr__(self):
        return f"SyslogReceiver({'tls' if self.tls else 'tcp'}://127.0.0.1:{self.port})"
