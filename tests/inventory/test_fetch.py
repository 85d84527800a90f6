"""The safe fetcher against a real HTTP server on 127.0.0.1: policy, caps, deadlines, the log."""

import gzip
import random
import socket
import threading
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpcore
import pytest

from inventory.fetch import FetchError, safe_fetch, special_use_reason
from inventory.models import FetchRecord
from tests.fetch_server import LocalServer, RawServer, Route, closed_port


@pytest.fixture
def server():
    srv = LocalServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def allow_local(settings):
    settings.FETCH_ALLOWLIST = ["127.0.0.1"]
    return settings


@pytest.fixture
def connect_spy(monkeypatch):
    """Every TCP connection attempt the fetcher makes, whatever the address."""
    calls = []
    real = httpcore.SyncBackend.connect_tcp

    def spy(self, host, port, *args, **kwargs):
        calls.append((host, port))
        return real(self, host, port, *args, **kwargs)

    monkeypatch.setattr(httpcore.SyncBackend, "connect_tcp", spy)
    return calls


def _fake_dns(monkeypatch, answers: dict[str, list[str]]):
    real = socket.getaddrinfo
    asked = []

    def fake(host, port, *args, **kwargs):
        if host in answers:
            asked.append(host)
            family = lambda a: socket.AF_INET6 if ":" in a else socket.AF_INET  # noqa: E731
            return [(family(a), socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return asked


@pytest.mark.django_db
def test_an_allow_listed_fetch_returns_the_document_and_is_logged(server, allow_local):
    server.routes["/doc.json"] = Route(
        body={"hello": "world"}, headers={"Cache-Control": "public, max-age=600"}
    )
    result = safe_fetch(server.url("/doc.json"), purpose="cimd")
    assert result.json() == {"hello": "world"}
    assert result.status_code == 200 and result.max_age == 600
    assert result.headers["cache-control"] == "public, max-age=600"
    user_agent = server.requests[0][2]["User-Agent"]
    assert user_agent.startswith("MCPGovernanceConsole/")
    row = FetchRecord.objects.get()
    assert (row.purpose, row.status_code, row.ok, row.bytes) == ("cimd", 200, True, 18)
    assert row.address == "127.0.0.1"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url_template",
    [
        "https://127.0.0.1:{port}/doc.json",
        "https://[::1]:{port}/doc.json",
        "https://10.1.2.3:{port}/doc.json",
        "https://169.254.169.254/latest/meta-data/",
        "https://localhost:{port}/doc.json",
        "https://internal.attacker.example:{port}/doc.json",
        "https://metadata.attacker.example/latest/meta-data/",
        "https://mapped.attacker.example:{port}/doc.json",
        "https://2130706433:{port}/doc.json",  # 127.0.0.1 as one decimal number
        "https://[::ffff:127.0.0.1]:{port}/doc.json",
        "https://localhost.:{port}/doc.json",
    ],
)
def test_without_the_allow_list_special_addresses_are_refused_before_connecting(
    server, connect_spy, monkeypatch, settings, url_template
):
    settings.FETCH_ALLOWLIST = []
    _fake_dns(
        monkeypatch,
        {
            "internal.attacker.example": ["127.0.0.1"],
            "metadata.attacker.example": ["169.254.169.254"],
            "mapped.attacker.example": ["::ffff:10.0.0.7"],
        },
    )
    server.routes["/doc.json"] = Route(body={"secret": True})
    with pytest.raises(FetchError) as err:
        safe_fetch(url_template.format(port=server.port), purpose="cimd")
    assert err.value.reason == "blocked_address"
    assert connect_spy == [] and server.connections == 0
    assert FetchRecord.objects.get().error_reason == "blocked_address"


@pytest.mark.django_db
def test_plain_http_is_refused_for_hosts_not_on_the_allow_list(server, connect_spy, settings):
    settings.FETCH_ALLOWLIST = []
    with pytest.raises(FetchError) as err:
        safe_fetch(server.url("/doc.json"), purpose="cimd")
    assert err.value.reason == "not_allowed_scheme"
    assert connect_spy == [] and server.connections == 0


@pytest.mark.django_db
def test_a_name_resolving_to_any_special_address_is_refused_even_beside_a_public_one(
    connect_spy, monkeypatch, settings
):
    settings.FETCH_ALLOWLIST = []
    _fake_dns(monkeypatch, {"split.attacker.example": ["93.184.216.34", "10.0.0.5"]})
    with pytest.raises(FetchError) as err:
        safe_fetch("https://split.attacker.example/doc.json", purpose="cimd")
    assert err.value.reason == "blocked_address" and "10.0.0.5" in err.value.message
    assert connect_spy == []


@pytest.mark.django_db
def test_cloud_metadata_stays_refused_even_when_its_range_is_allow_listed(connect_spy, settings):
    settings.FETCH_ALLOWLIST = ["169.254.0.0/16", "fd00::/8"]
    for url in ("http://169.254.169.254/latest/", "http://[fd00:ec2::254]/latest/"):
        with pytest.raises(FetchError) as err:
            safe_fetch(url, purpose="cimd")
        assert err.value.reason == "blocked_address"
    assert connect_spy == []


@pytest.mark.parametrize(
    "address,why",
    [
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "cloud metadata"),
        ("64:ff9b::a00:1", "private"),
        ("2002:a00:1::1", "private"),
        ("::10.0.0.1", "private"),
        ("100.64.1.1", "shared"),
        ("224.0.0.1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "unique local"),
        ("ff02::1", "multicast"),
        ("240.0.0.1", "reserved"),
    ],
)
def test_special_use_addresses_are_recognised_in_every_form(address, why):
    assert why in special_use_reason(address)


def test_public_addresses_are_not_special_use():
    for address in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "64:ff9b::5db8:d822"):
        assert special_use_reason(address) is None


@pytest.mark.django_db
def test_the_fetch_connects_to_the_checked_address_and_never_resolves_again(
    server, monkeypatch, allow_local
):
    # A rebinding name: the first answer passes the check, later answers point inside.
    answers = iter([["127.0.0.1"], ["10.9.9.9"], ["10.9.9.9"]])
    real = socket.getaddrinfo
    calls = []

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.attacker.example":
            calls.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in next(answers)]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    server.routes["/doc.json"] = Route(body={"ok": 1})
    result = safe_fetch(f"http://rebind.attacker.example:{server.port}/doc.json", purpose="cimd")
    assert result.json() == {"ok": 1} and len(calls) == 1
    assert server.requests[0][2]["Host"] == f"rebind.attacker.example:{server.port}"


@pytest.mark.django_db
def test_a_redirect_to_an_internal_address_is_refused_at_the_hop(server, connect_spy, allow_local):
    server.routes["/go"] = Route(status=302, headers={"Location": "https://10.0.0.8/doc.json"})
    with pytest.raises(FetchError) as err:
        safe_fetch(server.url("/go"), purpose="prm")
    assert err.value.reason == "blocked_address"
    assert connect_spy == [("127.0.0.1", server.port)]


@pytest.mark.django_db
def test_redirects_are_refused_where_none_are_allowed_and_followed_elsewhere(server, allow_local):
    server.routes["/go"] = Route(status=301, headers={"Location": "/doc.json"})
    server.routes["/doc.json"] = Route(body={"ok": True})
    with pytest.raises(FetchError) as err:
        safe_fetch(server.url("/go"), purpose="cimd", max_redirects=0)
    assert err.value.reason == "redirect_refused" and err.value.status == 301
    followed = safe_fetch(server.url("/go"), purpose="prm", max_redirects=2)
    assert followed.json() == {"ok": True} and followed.final_url.endswith("/doc.json")
    server.routes["/loop"] = Route(status=302, headers={"Location": "/loop"})
    with pytest.raises(FetchError) as err:
        safe_fetch(server.url("/loop"), purpose="prm", max_redirects=2)
    assert err.value.reason == "too_many_redirects"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "location",
    [
        "http:////[::1]:x",
        "http:////[::1",  # httpx accepts these; joining them to the URL fails
        "https:x",
        "http://xn--0x",  # httpx itself fails on these while reading the response
        "http://[::1",
        "http://[1:2]/",  # httpx cannot parse these: it says RemoteProtocolError
    ],
)
def test_an_unusable_redirect_location_is_a_fetch_error_not_a_crash(server, allow_local, location):
    server.routes["/go"] = Route(status=302, headers={"Location": location})
    with pytest.raises(FetchError) as err:
        safe_fetch(server.url("/go"), purpose="prm", max_redirects=2)
    assert err.value.reason == "invalid_url" and "bad redirect" in err.value.message
    row = FetchRecord.objects.get()
    assert (row.ok, row.error_reason) == (False, "invalid_url")


@pytest.mark.django_db
def test_an_unexpected_error_reading_the_body_is_not_reported_as_a_bad_redirect(
    server, allow_local, monkeypatch
):
    # No peer-supplied bytes are known to make the body phase raise ValueError, so the reader
    # does; the response itself is a real 200 from the local server.
    def broken_reader(resp, max_bytes):
        raise ValueError("decoder broke: " + "x" * 2000)

    monkeypatch.setattr("inventory.fetch._read_capped", broken_reader)
    server.routes["/doc.json"] = Route(body={"a": 1})
    with pytest.raises(FetchError) as err:
        safe_fetch(server.url("/doc.json"), purpose="cimd")
    assert (err.value.reason, err.value.status) == ("internal_error", 200)
    assert "redirect" not in err.value.message
    assert err.value.message.startswith("unexpected ValueError: decoder broke")
    assert len(err.value.message) == 500
    row = FetchRecord.objects.get()
    assert (row.ok, row.error_reason, row.status_code) == (False, "internal_error", 200)


_JSON_200 = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (_JSON_200 + b"Content-Length: 2x\r\n\r\n{}", None),
        (_JSON_200 + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", None),
        (_JSON_200 + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 200),
        (
            b"HTTP/1.1 302 Found\r\nLocation: https://a.example/\x00x\r\nContent-Length: 0\r\n\r\n",
            None,
        ),
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", None),
    ],
    ids=[
        "bad-content-length",
        "conflicting-content-length",
        "bad-chunk-size",
        "nul-in-location",
        "not-http",
    ],
)
def test_a_malformed_response_is_a_protocol_error_not_a_connect_error(allow_local, answer, status):
    with RawServer(answer) as peer:
        with pytest.raises(FetchError) as err:
            safe_fetch(peer.url("/doc.json"), purpose="cimd")
    assert (err.value.reason, err.value.status) == ("protocol_error", status)
    assert err.value.message.startswith("RemoteProtocolError: ")
    row = FetchRecord.objects.get()
    assert (row.ok, row.error_reason, row.status_code) == (False, "protocol_error", status)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "answer",
    [
        b"",
        _JSON_200 + b"Content-Le",
        _JSON_200 + b"Content-Length: 10\r\n\r\n{}",
        _JSON_200 + b"Transfer-Encoding: chunked\r\n\r\n5\r\n{}",
    ],
    ids=["nothing", "headers-cut-off", "body-shorter-than-declared", "chunked-body-cut-off"],
)
def test_a_response_cut_off_by_the_peer_closing_is_a_connect_error(allow_local, answer):
    # httpx says RemoteProtocolError here too, but the connection broke (as a reset would):
    # that is worth retrying, a malformed response is not.
    with RawServer(answer) as peer:
        with pytest.raises(FetchError) as err:
            safe_fetch(peer.url("/doc.json"), purpose="cimd")
    assert err.value.reason == "connect_error"
    assert FetchRecord.objects.get().error_reason == "connect_error"


@pytest.mark.django_db
def test_a_refused_connection_is_still_a_connect_error(allow_local):
    with pytest.raises(FetchError) as err:
        safe_fetch(f"http://127.0.0.1:{closed_port()}/doc.json", purpose="cimd")
    assert err.value.reason == "connect_error"
    assert err.value.message.startswith("ConnectError: ")


@pytest.mark.django_db
def test_a_request_we_cannot_send_is_an_internal_error_not_the_peers_fault(server, allow_local):
    # h11 refuses the header value before a byte is sent (httpx's LocalProtocolError).
    server.routes["/mcp"] = Route(body={})
    with pytest.raises(FetchError) as err:
        safe_fetch(server.url("/mcp"), purpose="prm", headers={"X-Probe": "a\nb"})
    assert err.value.reason == "internal_error"
    assert err.value.message.startswith("unexpected LocalProtocolError: ")
    assert server.requests == []


@pytest.mark.django_db
def test_a_retry_after_date_in_the_minus_0000_form_is_rate_limited_not_a_crash(server, allow_local):
    # RFC 5322's "-0000" zone parses to a naive datetime; it once broke the subtraction.
    later = format_datetime(datetime.now(UTC) + timedelta(hours=1)).replace("+0000", "-0000")
    server.routes["/busy"] = Route(status=429, headers={"Retry-After": later})
    with pytest.raises(FetchError) as err:
        safe_fetch(server.url("/busy"), purpose="registry")
    assert err.value.reason == "rate_limited"
    assert 3500 < err.value.retry_after <= 3600


@pytest.mark.django_db
def test_bodies_over_the_cap_are_refused_declared_streamed_or_compressed(server, allow_local):
    big = b'{"pad": "' + b"x" * 6000 + b'"}'
    server.routes["/declared"] = Route(body=big)
    server.routes["/streamed"] = Route(body=big, omit_length=True)
    server.routes["/bomb"] = Route(
        body=gzip.compress(b"[" + b"0," * 500_000 + b"0]"), headers={"Content-Encoding": "gzip"}
    )
    for path in ("/declared", "/streamed", "/bomb"):
        with pytest.raises(FetchError) as err:
            safe_fetch(server.url(path), purpose="cimd", max_bytes=5120)
        assert err.value.reason == "too_large", path


@pytest.mark.django_db
def test_a_gzip_body_within_the_cap_is_decoded(server, allow_local):
    server.routes["/gz"] = Route(
        body=gzip.compress(b'{"a": 1}'), headers={"Content-Encoding": "gzip"}
    )
    assert safe_fetch(server.url("/gz"), purpose="cimd").json() == {"a": 1}


@pytest.mark.django_db
def test_a_slow_drip_is_cut_off_by_the_total_deadline(server, allow_local):
    # Each byte arrives well within the read timeout; only the total deadline can stop it.
    server.routes["/drip"] = Route(body=b'{"a": "' + b"x" * 200 + b'"}', drip_delay=0.2)
    with pytest.raises(FetchError) as err:
        safe_fetch(server.url("/drip"), purpose="cimd", read_timeout=5, total_timeout=1.0)
    assert err.value.reason == "timeout"
    assert FetchRecord.objects.get().error_reason == "timeout"


@pytest.mark.django_db
def test_content_types_are_checked_and_json_suffix_types_accepted(server, allow_local):
    server.routes["/html"] = Route(body="<html></html>", content_type="text/html")
    server.routes["/suffix"] = Route(body={"a": 1}, content_type="application/vnd.x+json")
    with pytest.raises(FetchError) as err:
        safe_fetch(server.url("/html"), purpose="cimd")
    assert err.value.reason == "bad_content_type"
    assert safe_fetch(server.url("/suffix"), purpose="cimd").json() == {"a": 1}


@pytest.mark.django_db
def test_invalid_json_raises_a_fetch_error_not_a_crash(server, allow_local):
    server.routes["/bad"] = Route(body='{"a": ')
    with pytest.raises(FetchError) as err:
        safe_fetch(server.url("/bad"), purpose="cimd").json()
    assert err.value.reason == "invalid_json"


@pytest.mark.django_db
def test_429_and_503_with_retry_after_are_rate_limited_with_the_delay(server, allow_local):
    server.routes["/busy"] = Route(status=429, headers={"Retry-After": "30"})
    server.routes["/down"] = Route(status=503, headers={"Retry-After": "7"})
    server.routes["/gone"] = Route(status=404)
    for path, wait in (("/busy", 30.0), ("/down", 7.0)):
        with pytest.raises(FetchError) as err:
            safe_fetch(server.url(path), purpose="registry")
        assert (err.value.reason, err.value.retry_after) == ("rate_limited", wait)
    with pytest.raises(FetchError) as err:
        safe_fetch(server.url("/gone"), purpose="registry")
    assert (err.value.reason, err.value.status) == ("http_error", 404)


@pytest.mark.django_db
def test_a_429_keeps_its_headers_on_the_error_for_callers_that_read_its_reset(server, allow_local):
    reset = {"X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": "1900000000"}
    server.routes["/busy"] = Route(status=429, headers=reset)

    with pytest.raises(FetchError) as err:
        safe_fetch(server.url("/busy"), purpose="registry")

    assert (err.value.reason, err.value.retry_after) == ("rate_limited", None)
    assert err.value.headers["x-rate-limit-reset"] == "1900000000" and err.value.headers["date"]


@pytest.mark.django_db
def test_no_store_means_max_age_zero_and_credentials_in_urls_are_refused(server, allow_local):
    server.routes["/nostore"] = Route(body={}, headers={"Cache-Control": "no-store"})
    assert safe_fetch(server.url("/nostore"), purpose="cimd").max_age == 0
    with pytest.raises(FetchError) as err:
        safe_fetch(f"http://user:pw@127.0.0.1:{server.port}/x", purpose="cimd")
    assert err.value.reason == "invalid_url"
    with pytest.raises(FetchError) as err:
        safe_fetch("file:///etc/passwd", purpose="cimd")
    assert err.value.reason in {"not_allowed_scheme", "invalid_url"}


@pytest.mark.django_db
def test_a_refused_url_with_credentials_is_logged_without_them(server, allow_local):
    with pytest.raises(FetchError):
        safe_fetch(f"http://user:s3cret-pw@127.0.0.1:{server.port}/x", purpose="prm")
    assert list(FetchRecord.objects.values_list("url", flat=True)) == [server.url("/x")]


@pytest.mark.django_db
def test_fetches_are_not_recorded_when_asked_not_to(server, allow_local):
    server.routes["/doc.json"] = Route(body={})
    safe_fetch(server.url("/doc.json"), purpose="cimd", record=False)
    assert not FetchRecord.objects.exists()


@pytest.mark.django_db
def test_kept_alive_connections_are_reused_only_for_the_same_checked_address(
    server, monkeypatch, settings
):
    settings.FETCH_ALLOWLIST = ["127.0.0.0/8"]
    server.keep_alive = True
    server.routes["/doc.json"] = Route(body={"ok": 1})
    answers = {"a.lab.example": ["127.0.0.1"]}
    _fake_dns(monkeypatch, answers)
    url = f"http://a.lab.example:{server.port}/doc.json"
    safe_fetch(url, purpose="cimd")
    safe_fetch(url, purpose="cimd")
    assert server.connections == 1
    answers["a.lab.example"] = ["127.0.0.2"]  # the name now points elsewhere
    with pytest.raises(FetchError) as err:
        safe_fetch(url, purpose="cimd")  # a new connection to the new address, not the old one
    assert err.value.reason == "connect_error" and server.connections == 1


@pytest.mark.django_db
def test_internationalised_host_names_are_resolved_and_pinned_in_their_ascii_form(
    server, monkeypatch, settings
):
    settings.FETCH_ALLOWLIST = ["127.0.0.1"]
    asked = _fake_dns(monkeypatch, {"xn--bcher-kva.example": ["127.0.0.1"]})
    server.routes["/doc.json"] = Route(body={"ok": 1})
    result = safe_fetch(f"http://bücher.example:{server.port}/doc.json", purpose="cimd")
    assert result.json() == {"ok": 1} and asked == ["xn--bcher-kva.example"]


@pytest.mark.django_db
def test_when_the_first_checked_address_refuses_the_next_one_is_tried(
    server, monkeypatch, settings
):
    settings.FETCH_ALLOWLIST = ["127.0.0.0/8"]
    _fake_dns(monkeypatch, {"two.lab.example": ["127.0.0.3", "127.0.0.1"]})
    server.routes["/doc.json"] = Route(body={"ok": 2})
    assert safe_fetch(f"http://two.lab.example:{server.port}/doc.json", purpose="cimd").json() == {
        "ok": 2
    }


@pytest.mark.django_db
def test_a_resolver_that_hangs_is_abandoned_at_the_deadline(monkeypatch, settings, connect_spy):
    settings.FETCH_ALLOWLIST = []
    release = threading.Event()
    real = socket.getaddrinfo

    def hanging(host, *args, **kwargs):
        if host == "slow-dns.example":
            release.wait(10)
            return []
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", hanging)
    try:
        with pytest.raises(FetchError) as err:
            safe_fetch("https://slow-dns.example/c.json", purpose="cimd", total_timeout=0.5)
        assert err.value.reason == "timeout" and connect_spy == []
    finally:
        release.set()


@pytest.mark.django_db
def test_the_latest_fetches_of_one_url_are_read_through_an_index():
    from django.db import connection

    # What a CIMD client's page asks for; seq scans off so the tiny test table still shows
    # whether an index can answer it.
    recent = FetchRecord.objects.filter(url="https://agent.example/client.json")[:20]
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
    plan = recent.explain()
    assert "Index Cond: ((url)::text =" in plan, plan


@pytest.mark.django_db
def test_a_long_multibyte_url_is_still_logged_clipped_to_fit_the_index(server, allow_local):
    rng = random.Random(7)  # incompressible: a repeated character would fit once compressed
    url = server.url("/" + "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(1990)))
    with pytest.raises(FetchError):
        safe_fetch(url, purpose="prm")
    row = FetchRecord.objects.get()
    assert row.error_reason == "http_error" and url.startswith(row.url)
    assert len(row.url.encode()) <= 2000 and len(row.url) > 600
