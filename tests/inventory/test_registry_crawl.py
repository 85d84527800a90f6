"""The registry crawler against a real registry HTTP server on 127.0.0.1."""

import json
from datetime import UTC, datetime

import pytest

from inventory.models import (
    Crawl,
    Flag,
    Registry,
    Server,
    ServerChange,
    ServerPackage,
    ServerRemote,
    ServerVersion,
)
from inventory.services.crawls import execute_crawl, open_crawl
from inventory.upstream import json_fetch
from tests.fetch_server import RawServer, closed_port
from tests.fixtures.registry_server import (
    OFFICIAL,
    entry,
    example,
    generated_server,
    running_registry,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _allow_loopback(settings):
    settings.FETCH_ALLOWLIST = ["127.0.0.1"]


@pytest.fixture
def examples():
    return [entry(example("context7")), entry(example("github")), entry(example("playwright"))]


def crawl(reg: Registry, *, full: bool = False) -> Crawl:
    """Run one crawl inline through the job machinery, as the worker would."""
    job, _ = open_crawl(
        kind="registry", target=reg.base_url, registry=reg, options={"full": True} if full else {}
    )
    execute_crawl(job.pk)
    job.refresh_from_db()
    return job


def make_registry(url: str, name: str = "local") -> Registry:
    return Registry.objects.create(name=name, base_url=url)


def test_a_crawl_upserts_servers_versions_remotes_and_packages_from_the_examples(examples):
    with running_registry(examples) as fake:
        job = crawl(make_registry(fake.url))
    assert job.status == "done", job.error_log
    assert job.records == 3 and job.errors == 0
    context7 = Server.objects.get(name="io.github.upstash/context7")
    assert context7.title == "Context7" and context7.latest_version == "2.0.0"
    assert context7.registry_status == "active"
    version = ServerVersion.objects.get(server=context7)
    assert version.is_latest and version.document["name"] == "io.github.upstash/context7"
    packages = ServerPackage.objects.filter(server_version=version).order_by("position")
    assert [(p.registry_type, p.version) for p in packages] == [("npm", "2.0.2"), ("mcpb", "2.0.2")]
    assert packages[1].file_sha256.startswith("aea76f17")
    assert ServerRemote.objects.filter(
        server__name="io.github.github/github-mcp-server", url="https://api.githubcopilot.com/mcp/"
    ).exists()


def test_crawling_the_same_registry_twice_creates_nothing_twice(examples):
    with running_registry(examples) as fake:
        reg = make_registry(fake.url)
        crawl(reg, full=True)
        second = crawl(reg, full=True)
    assert second.status == "done"
    assert second.summary["unchanged_versions"] == 3 and second.summary["new_versions"] == 0
    assert ServerVersion.objects.count() == 3 and Server.objects.count() == 3
    assert ServerPackage.objects.count() == 4


def test_pagination_follows_the_cursor_through_every_page():
    servers = [entry(generated_server(i)) for i in range(250)]
    with running_registry(servers) as fake:
        job = crawl(make_registry(fake.url))
    assert job.pages == 3 and job.records == 250
    assert ServerVersion.objects.count() == 250
    cursors = [params.get("cursor") for _path, params in fake.requests]
    assert cursors[0] is None and all(cursors[1:]) and len(set(cursors)) == 3
    assert all(params["limit"] == "100" for _path, params in fake.requests)


def test_the_second_crawl_is_incremental_and_only_sees_what_changed():
    servers = [entry(generated_server(i)) for i in range(120)]
    with running_registry(servers) as fake:
        reg = make_registry(fake.url)
        crawl(reg)
        fake.publish(generated_server(7, version="1.1.0"))
        fake.requests.clear()
        second = crawl(reg)
    assert "updated_since" in fake.requests[0][1]
    assert second.summary["mode"] == "incremental"
    # the new version, and the previous latest whose isLatest flipped
    assert second.records == 2 and second.summary["new_versions"] == 1
    server = Server.objects.get(name=generated_server(7)["name"])
    assert server.latest_version == "1.1.0"
    assert list(
        ServerVersion.objects.filter(server=server, is_latest=True).values_list(
            "version", flat=True
        )
    ) == ["1.1.0"]


def test_an_incremental_crawl_with_nothing_changed_writes_nothing():
    with running_registry([entry(generated_server(i)) for i in range(30)]) as fake:
        reg = make_registry(fake.url)
        crawl(reg)
        second = crawl(reg)
    assert second.status == "done" and second.records == 0 and second.pages == 1


def test_a_registry_that_only_offers_v0_is_crawled_through_v0(examples):
    with running_registry(examples, api_versions=("v0",)) as fake:
        job = crawl(make_registry(fake.url))
    assert job.status == "done" and job.records == 3
    assert job.summary["api_version"] == "v0"
    assert [path for path, _ in fake.requests] == ["/v0.1/servers", "/v0/servers"]


def test_a_429_is_retried_after_the_wait_the_registry_asked_for(examples, monkeypatch):
    waits = []
    monkeypatch.setattr(json_fetch, "_sleep", waits.append)
    with running_registry(examples) as fake:
        fake.rate_limited = ["7"]
        job = crawl(make_registry(fake.url))
    assert job.status == "done" and job.records == 3
    assert waits == [7.0]


def test_a_huge_retry_after_is_capped(examples, monkeypatch, settings):
    settings.REGISTRY_MAX_RETRY_WAIT_SECONDS = 30
    waits = []
    monkeypatch.setattr(json_fetch, "_sleep", waits.append)
    with running_registry(examples) as fake:
        fake.rate_limited = ["86400"]
        crawl(make_registry(fake.url))
    assert waits == [30.0]


def test_a_registry_that_keeps_rate_limiting_fails_the_crawl_with_the_reason(examples, monkeypatch):
    monkeypatch.setattr(json_fetch, "_sleep", lambda s: None)
    with running_registry(examples) as fake:
        fake.rate_limited = ["1"] * 10
        job = crawl(make_registry(fake.url))
    assert job.status == "failed"
    assert "rate_limited" in job.error_log[-1]["message"]


def _raw_page(body: dict) -> bytes:
    payload = json.dumps(body).encode()
    return (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
        + str(len(payload)).encode()
        + b"\r\n\r\n"
        + payload
    )


def test_a_registry_answering_malformed_http_fails_the_crawl_without_retrying(monkeypatch):
    # The same peer would answer the same way again at once; the next scheduled crawl retries.
    waits = []
    monkeypatch.setattr(json_fetch, "_sleep", waits.append)
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"
    with RawServer(answer) as peer:
        job = crawl(make_registry(peer.url("")))
    assert job.status == "failed" and "protocol_error" in job.error_log[-1]["message"]
    assert peer.connections == 1 and waits == []


def test_a_refused_connection_is_still_retried_with_backoff(monkeypatch):
    waits = []
    monkeypatch.setattr(json_fetch, "_sleep", waits.append)
    job = crawl(make_registry(f"http://127.0.0.1:{closed_port()}"))
    assert job.status == "failed" and "connect_error" in job.error_log[-1]["message"]
    assert waits == [1.0, 2.0, 4.0, 8.0]  # five attempts in all


def test_a_page_cut_off_by_the_registry_closing_is_retried(monkeypatch):
    waits = []
    monkeypatch.setattr(json_fetch, "_sleep", waits.append)
    cut_off = _raw_page({"servers": [], "metadata": {"count": 0}})[:-5]
    with RawServer(cut_off, _raw_page({"servers": [], "metadata": {"count": 0}})) as peer:
        job = crawl(make_registry(peer.url("")))
    assert job.status == "done" and peer.connections == 2 and waits == [1.0]


def test_status_changes_are_kept_as_history_and_raise_flags(examples):
    with running_registry(examples) as fake:
        reg = make_registry(fake.url)
        crawl(reg)
        fake.set_status(
            "io.github.microsoft/playwright-mcp", "0.0.79", "deprecated", "Use the v2 server"
        )
        crawl(reg)
        fake.set_status("io.github.microsoft/playwright-mcp", "0.0.79", "deleted")
        crawl(reg)
    server = Server.objects.get(name="io.github.microsoft/playwright-mcp")
    assert server.registry_status == "deleted"
    history = ServerChange.objects.filter(server=server, field="status").order_by("observed_at")
    assert [(h.old_value, h.new_value) for h in history] == [
        ("active", "deprecated"),
        ("deprecated", "deleted"),
    ]
    assert history[0].message == "Use the v2 server" and history[0].registry == reg
    flags = Flag.objects.filter(kind="registry.status_changed", object_id=str(server.pk))
    assert {f.severity for f in flags} == {"warning", "high"}


def test_a_new_latest_version_is_recorded_in_the_latest_history_and_flagged(examples):
    with running_registry(examples) as fake:
        reg = make_registry(fake.url)
        crawl(reg)
        newer = example("playwright") | {"version": "0.0.80"}
        fake.publish(newer)
        crawl(reg)
    server = Server.objects.get(name="io.github.microsoft/playwright-mcp")
    latest = ServerChange.objects.filter(server=server, field="latest_version").order_by("id")
    assert [(c.old_value, c.new_value) for c in latest] == [("", "0.0.79"), ("0.0.79", "0.0.80")]
    assert Flag.objects.filter(
        kind="registry.latest_version_changed", object_id=str(server.pk)
    ).exists()
    assert ServerVersion.objects.get(server=server, version="0.0.79").is_latest is False


def test_a_repository_id_changing_under_the_same_name_is_flagged_high():
    first = generated_server(1)
    with running_registry([entry(first)]) as fake:
        reg = make_registry(fake.url)
        crawl(reg)
        resurrected = generated_server(1, version="1.0.1")
        resurrected["repository"]["id"] = "999999"
        fake.publish(resurrected)
        crawl(reg)
    server = Server.objects.get(name=first["name"])
    change = ServerChange.objects.get(server=server, field="repository_id")
    assert (change.old_value, change.new_value) == ("100001", "999999")
    flag = Flag.objects.get(kind="registry.repository_id_changed", object_id=str(server.pk))
    assert flag.severity == "high"
    assert server.repository_id == "999999"


def test_problems_are_recorded_per_version(examples):
    bad = generated_server(3, version="^1.2.0")
    bad["remotes"] = [{"type": "sse", "url": "http://plain.example.com/sse"}]
    bad["packages"].append(
        {
            "registryType": "mcpb",
            "transport": {"type": "stdio"},
            "identifier": "https://downloads.example.net/x.mcpb",
        }
    )
    bad["packages"][0]["environmentVariables"][0]["value"] = "sk-live-THIS-IS-A-SECRET"
    bad["packages"][0]["registryBaseUrl"] = "https://evil-mirror.example.org"
    with running_registry(examples + [entry(bad)]) as fake:
        crawl(make_registry(fake.url))
    github = ServerVersion.objects.get(server__name="io.github.github/github-mcp-server")
    assert "template_placeholder" in {p["code"] for p in github.problems}
    version = ServerVersion.objects.get(server__name=bad["name"])
    codes = {p["code"] for p in version.problems}
    assert {
        "version_range",
        "non_https_remote",
        "literal_secret",
        "mcpb_missing_sha256",
        "registry_base_url_not_allowed",
    } <= codes
    # the literal secret is neither stored nor repeated in the problem text
    assert "sk-live" not in str(version.document) and "sk-live" not in str(version.problems)
    flag = Flag.objects.get(kind="registry.risky_server_json", object_id=str(version.server_id))
    assert flag.severity == "high"
    playwright = ServerVersion.objects.get(server__name="io.github.microsoft/playwright-mcp")
    assert playwright.problems == []


def test_a_broken_item_is_logged_and_the_good_records_beside_it_are_kept(examples):
    broken = [{"server": {"description": "no name or version"}}, "not an object"]
    with running_registry(examples) as fake:
        for item in broken:
            fake.entries[("zzz", str(len(fake.entries)))] = item
        job = crawl(make_registry(fake.url))
    assert job.status == "done"
    assert job.records == 3 and job.errors == 2
    assert "skipped" in job.error_log[0]["message"]
    assert ServerVersion.objects.count() == 3


def test_a_registry_that_is_not_a_registry_fails_the_crawl_clearly():
    with running_registry([], api_versions=()) as fake:
        job = crawl(make_registry(fake.url))
    assert job.status == "failed"
    assert "HTTP 404" in job.error_log[-1]["message"]


def test_a_full_crawl_sees_deleted_entries_too(examples):
    examples[2]["_meta"]["io.modelcontextprotocol.registry/official"]["status"] = "deleted"
    with running_registry(examples) as fake:
        crawl(make_registry(fake.url), full=True)
    assert fake.requests[0][1]["include_deleted"] == "true"
    assert (
        Server.objects.get(name="io.github.microsoft/playwright-mcp").registry_status == "deleted"
    )


def test_a_page_that_is_not_json_fails_the_crawl_with_the_reason(monkeypatch):
    from inventory.fetch import FetchError

    def not_json(url, **kwargs):
        raise FetchError("invalid_json", "response is not JSON")

    monkeypatch.setattr(json_fetch, "safe_fetch", not_json)
    job = crawl(make_registry("https://registry.invalid"))
    assert job.status == "failed" and "invalid_json" in job.error_log[-1]["message"]


def test_two_versions_both_claiming_latest_leave_one_latest_the_last_published():
    older = entry(generated_server(5, version="1.0.0"), published_at="2025-01-01T00:00:00Z")
    newer = entry(generated_server(5, version="2.0.0"), published_at="2025-06-01T00:00:00Z")
    with running_registry([newer, older]) as fake:
        crawl(make_registry(fake.url))
    latest = ServerVersion.objects.filter(is_latest=True).values_list("version", flat=True)
    assert list(latest) == ["2.0.0"]
    assert Server.objects.get().latest_version == "2.0.0"


def test_a_timestamp_without_an_offset_is_read_as_utc_and_the_crawl_goes_on():
    # Sorting a page by publication time compared a naive datetime with aware ones: TypeError,
    # and the whole crawl failed on one registry entry written without "Z".
    naive = entry(
        generated_server(1), published_at="2025-12-01T10:00:00", updated_at="2025-12-01T10:00:00"
    )
    undated = entry(generated_server(2))
    del undated["_meta"][OFFICIAL]["publishedAt"]
    with running_registry([naive, undated, entry(generated_server(3))]) as fake:
        job = crawl(make_registry(fake.url))
    assert job.status == "done", job.error_log
    assert job.records == 3
    version = ServerVersion.objects.get(server__name=generated_server(1)["name"])
    assert version.published_at == datetime(2025, 12, 1, 10, 0, tzinfo=UTC)
    assert version.updated_at == datetime(2025, 12, 1, 10, 0, tzinfo=UTC)


def test_a_flag_on_a_new_server_names_it_by_the_title_it_was_given():
    risky = generated_server(4)
    risky["remotes"] = [{"type": "sse", "url": "http://plain.example.com/sse"}]
    with running_registry([entry(risky)]) as fake:
        crawl(make_registry(fake.url))
    flag = Flag.objects.get(kind="registry.risky_server_json")
    assert flag.object_repr == "Server 4"


def test_after_its_base_url_changes_a_registry_is_crawled_in_full_again():
    """What was crawled at the old URL says nothing about the new one: no updated_since."""
    with running_registry([entry(generated_server(i)) for i in range(5)]) as old:
        reg = make_registry(old.url)
        crawl(reg)
    with running_registry([entry(generated_server(i)) for i in range(8)]) as new:
        reg.base_url = new.url
        reg.save(update_fields=["base_url"])
        job = crawl(reg)
    assert "updated_since" not in new.requests[0][1]
    assert job.summary["mode"] != "incremental" and job.records == 8
