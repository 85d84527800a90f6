"""Registry history across incremental and full crawls, against a real registry on 127.0.0.1:
which version is latest when the registry moves it silently, and flags that compare a version
only with the one published before it and are not raised again for a no-op change."""

import pytest
from django.utils import timezone

from inventory.models import Crawl, Flag, Registry, Server, ServerChange, ServerVersion
from inventory.services.crawls import execute_crawl, open_crawl
from tests.fixtures.registry_server import entry, generated_server, running_registry

pytestmark = pytest.mark.django_db

NAME = generated_server(1)["name"]


@pytest.fixture(autouse=True)
def _allow_loopback(settings):
    settings.FETCH_ALLOWLIST = ["127.0.0.1"]


def crawl(reg: Registry, *, full: bool = False) -> Crawl:
    """Run one crawl inline through the job machinery, as the worker would."""
    job, _ = open_crawl(
        kind="registry", target=reg.base_url, registry=reg, options={"full": True} if full else {}
    )
    execute_crawl(job.pk)
    job.refresh_from_db()
    assert job.status == "done", job.error_log
    return job


def version(
    number: str, *, repository_id: str, published: str, latest: bool, risky: bool = False
) -> dict:
    """Server 1 at `number`, published (and last updated) long before any crawl."""
    server = generated_server(1, version=number)
    server["repository"]["id"] = repository_id
    if risky:
        server["remotes"] = [{"type": "sse", "url": "http://plain.example.com/sse"}]
    return entry(server, is_latest=latest, published_at=published, updated_at=published)


def two_versions(*, risky_first: bool = False) -> list[dict]:
    """1.0.0 from repository 100001, then 1.1.0 (latest) from a re-created repository 999."""
    return [
        version(
            "1.0.0",
            repository_id="100001",
            published="2025-01-01T00:00:00Z",
            latest=False,
            risky=risky_first,
        ),
        version("1.1.0", repository_id="999", published="2025-06-01T00:00:00Z", latest=True),
    ]


def latest_versions() -> list[str]:
    return list(
        ServerVersion.objects.filter(server__name=NAME, is_latest=True).values_list(
            "version", flat=True
        )
    )


def changes(field: str) -> list[tuple[str, str, str]]:
    return [
        (c.version, c.old_value, c.new_value)
        for c in ServerChange.objects.filter(server__name=NAME, field=field).order_by("id")
    ]


def test_deleting_the_latest_version_moves_latest_back_although_only_the_deleted_one_is_listed():
    # The registry moves isLatest back to 1.0.0 without touching its updatedAt, so the
    # incremental crawl lists 1.1.0 alone; before, no version was latest and the server kept
    # pointing at the deleted one until a full crawl.
    with running_registry(two_versions()) as fake:
        reg = Registry.objects.create(name="local", base_url=fake.url)
        crawl(reg)
        fake.delete(NAME, "1.1.0")
        fake.requests.clear()
        job = crawl(reg)
    assert "updated_since" in fake.requests[0][1] and job.records == 1
    assert latest_versions() == ["1.0.0"]
    server = Server.objects.get(name=NAME)
    assert (server.latest_version, server.registry_status) == ("1.0.0", "active")
    assert server.repository_id == "100001"
    assert changes("latest_version")[-1] == ("1.0.0", "1.1.0", "1.0.0")
    assert "inferred" in ServerChange.objects.filter(field="latest_version").latest("id").message
    assert ServerVersion.objects.get(version="1.1.0").status == "deleted"


def test_a_full_crawl_after_the_inferred_move_changes_nothing_and_raises_nothing_again():
    # The full crawl now sees 1.0.0 marked latest (a new content hash): it used to compare the
    # old version's repository id with the newest one's (a false, backwards, high flag) and
    # to raise the old version's risky_server_json again although only isLatest had changed.
    with running_registry(two_versions(risky_first=True)) as fake:
        reg = Registry.objects.create(name="local", base_url=fake.url)
        crawl(reg)
        risky = Flag.objects.get(kind="registry.risky_server_json")
        risky.resolved_at, risky.resolved_by = timezone.now(), "accepted by the owner"
        risky.status = Flag.Status.RESOLVED
        risky.save()
        fake.delete(NAME, "1.1.0")
        crawl(reg)
        full = crawl(reg, full=True)
    assert full.summary["changed_versions"] == 1  # 1.0.0: isLatest is now in its official block
    assert changes("repository_id") == [("1.1.0", "100001", "999")]
    assert Flag.objects.filter(kind="registry.repository_id_changed").count() == 1
    assert not Flag.objects.filter(kind="registry.risky_server_json", resolved_at=None).exists()
    assert Flag.objects.get(kind="registry.risky_server_json").times_raised == 1
    assert latest_versions() == ["1.0.0"]
    assert [c[1:] for c in changes("latest_version")] == [("", "1.1.0"), ("1.1.0", "1.0.0")]


def test_a_status_change_on_an_old_version_does_not_compare_its_repository_with_the_newest():
    with running_registry(two_versions()) as fake:
        reg = Registry.objects.create(name="local", base_url=fake.url)
        crawl(reg)
        fake.set_status(NAME, "1.0.0", "deprecated")
        crawl(reg)
    assert changes("status") == [("1.0.0", "active", "deprecated")]
    assert changes("repository_id") == [("1.1.0", "100001", "999")]
    flag = Flag.objects.get(kind="registry.repository_id_changed")
    assert flag.severity == "high" and flag.times_raised == 1


def test_versions_listed_out_of_publication_order_are_compared_in_publication_order():
    # One version per page, and the listing order (by version string) is the reverse of the
    # publication order: the older version arrives second and used to be compared with the
    # newer one, a change "from 999 to 100001" reported against the old version.
    newer = version("1.0.0", repository_id="999", published="2025-06-01T00:00:00Z", latest=True)
    older = version("2.0.0", repository_id="100001", published="2025-01-01T00:00:00Z", latest=False)
    with running_registry([newer, older], max_limit=1) as fake:
        job = crawl(Registry.objects.create(name="local", base_url=fake.url))
    assert job.pages == 2
    assert changes("repository_id") == [("1.0.0", "100001", "999")]
    assert Flag.objects.get(kind="registry.repository_id_changed").dedup_key.endswith(":999")


def test_a_version_whose_only_change_is_losing_latest_does_not_raise_its_risky_flag_again():
    risky = version(
        "1.0.0", repository_id="100001", published="2025-01-01T00:00:00Z", latest=True, risky=True
    )
    with running_registry([risky]) as fake:
        reg = Registry.objects.create(name="local", base_url=fake.url)
        crawl(reg)
        flag = Flag.objects.get(kind="registry.risky_server_json")
        flag.resolved_at, flag.resolved_by = timezone.now(), "accepted by the owner"
        flag.status = Flag.Status.RESOLVED
        flag.save()
        fake.publish(generated_server(1, version="1.1.0"))  # clean; 1.0.0 loses isLatest
        second = crawl(reg)
    assert second.summary["changed_versions"] == 1 and second.summary["new_versions"] == 1
    assert Flag.objects.filter(kind="registry.risky_server_json").count() == 1
    assert Flag.objects.get(kind="registry.risky_server_json").resolved_at is not None


def test_a_version_that_gains_a_risky_problem_is_flagged_again():
    # The other side: a changed version whose risky problems differ is raised (and re-opened).
    clean = version("1.0.0", repository_id="100001", published="2025-01-01T00:00:00Z", latest=True)
    with running_registry([clean]) as fake:
        reg = Registry.objects.create(name="local", base_url=fake.url)
        crawl(reg)
        assert not Flag.objects.filter(kind="registry.risky_server_json").exists()
        broken = version(
            "1.0.0",
            repository_id="100001",
            published="2025-01-01T00:00:00Z",
            latest=True,
            risky=True,
        )
        fake.put(broken)
        crawl(reg, full=True)
    assert Flag.objects.get(kind="registry.risky_server_json").severity == "high"
