"""Syslog on the wire: RFC 5424 messages, octet-counted (RFC 6587 §3.4.1, the framing RFC 5425
mandates for TLS) over one TCP or TLS connection.

Plain functions raising the socket's own errors (OSError, ssl.SSLError); transports.py says
which of them a retry can fix.
"""

from __future__ import annotations

import functools
import socket
import ssl
from datetime import UTC, datetime

from governance.alerts.http_wire import trust_context

APP_NAME = "mcp-governance"
# Facility 13, "log audit": what the findings and the audit trail are.
FACILITY = 13
# Finding severity -> syslog severity (2 critical, 3 error, 4 warning, 6 informational).
SEVERITY = {"critical": 2, "high": 3, "warning": 4, "info": 6}
# Our structured-data element; 32473 is the IANA private enterprise number for documentation
# (RFC 5612), as RFC 5424's own examples use.
SD_ID = "mcpgov@32473"
BOM = "\ufeff"


def _printable(text: str, limit: int) -> str:
    """A header field: printable US-ASCII without spaces, at most `limit` chars, `-` if empty."""
    cleaned = "".join(c for c in str(text) if 33 <= ord(c) <= 126)[:limit]
    return cleaned or "-"


def sd_escape(value: str) -> str:
    """A PARAM-VALUE: `"`, `\\` and `]` escaped with a backslash (RFC 5424 §6.3.3)."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def message(
    *,
    msg: str,
    msgid: str,
    severity: int,
    params: dict[str, object],
    hostname: str,
    when: datetime | None = None,
) -> bytes:
    """One RFC 5424 message: `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`.

    MSG starts with a BOM only when it is not plain ASCII: RFC 5424 says UTF-8 text announces
    itself so, and CEF parsers that expect `CEF:` first still get it for ASCII lines."""
    when = (when or datetime.now(UTC)).astimezone(UTC)
    timestamp = when.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    sd_params = " ".join(
        f'{_printable(key, 32)}="{sd_escape(value)}"'
        for key, value in params.items()
        if value not in (None, "")
    )
    sd = f"[{SD_ID} {sd_params}]" if sd_params else "-"
    body = msg if msg.isascii() else BOM + msg
    header = (
        f"<{FACILITY * 8 + severity}>1 {timestamp} {_printable(hostname, 255)} {APP_NAME} - "
        f"{_printable(msgid, 32)} {sd}"
    )
    return f"{header} {body}".encode()


def octet_counted(frame: bytes) -> bytes:
    """`MSG-LEN SP SYSLOG-MSG`, the length in bytes (RFC 6587 §3.4.1)."""
    return str(len(frame)).encode("ascii") + b" " + frame


@functools.lru_cache(maxsize=16)
def tls_context(ca_pem: str) -> ssl.SSLContext:
    """The same trust as the HTTP destinations (http_wire.trust_context), one context per CA,
    built once; its own instance, since the HTTP client sets ALPN on the ones it is given."""
    return trust_context(ca_pem)


def send(
    *,
    host: str,
    addresses: tuple[str, ...],
    port: int,
    frames: list[bytes],
    use_tls: bool,
    ca_pem: str,
    timeout: float,
) -> None:
    """Write the frames on one connection to the first address that answers, then close.

    TCP syslog has no acknowledgement; half-closing and waiting for the receiver to close in
    turn (or a TLS close_notify) means it read everything before we count the message sent."""
    sock = _connect(addresses, port, timeout)
    try:
        if use_tls:
            sock = tls_context(ca_pem).wrap_socket(sock, server_hostname=host)
        sock.sendall(b"".join(octet_counted(frame) for frame in frames))
        _close_gracefully(sock, use_tls)
    finally:
        sock.close()


def _connect(addresses: tuple[str, ...], port: int, timeout: float) -> socket.socket:
    error: OSError | None = None
    for address in addresses:
        try:
            return socket.create_connection((address, port), timeout=timeout)
        except OSError as exc:
            error = exc
    raise error or OSError("no address to connect to")


def _close_gracefully(sock, use_tls: bool) -> None:
    try:
        if use_tls:
            sock = sock.unwrap()
        sock.shutdown(socket.SHUT_WR)
        while sock.recv(4096):
            pass
    except (OSError, ssl.SSLError):
        # The receiver closed first, or without close_notify: the bytes were still written.
        pass
