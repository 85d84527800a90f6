"""End to end: a crawl started through start_crawl is run by a real Celery worker process."""

import time

import pytest

from inventory.models import Crawl, Registry, ServerVersion
from inventory.services.registry import start_registry_crawl
from tests.fetch_server import wait_until
from tests.fixtures.registry_server import entry, example, running_registry

WAIT_FOR_WORKER = 90  # generous: the machine is shared; this is a bound, not an assertion


def wait_until_finished(crawl: Crawl) -> Crawl:
    deadline = time.monotonic() + WAIT_FOR_WORKER
    while time.monotonic() < deadline:
        crawl.refresh_from_db()
        if not crawl.is_open:
            return crawl
        time.sleep(0.5)
    return crawl


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_crawl_started_through_start_crawl_reaches_done_on_a_real_worker(celery_worker, settings):
    settings.FETCH_ALLOWLIST = ["127.0.0.1"]
    servers = [entry(example(name)) for name in ("context7", "github", "playwright")]
    with running_registry(servers) as fake:
        registry = Registry.objects.create(name="local", base_url=fake.url)
        crawl = wait_until_finished(start_registry_crawl(registry))
    assert crawl.status == "done", crawl.error_log
    assert (crawl.pages, crawl.records, crawl.attempts) == (1, 3, 1)
    assert ServerVersion.objects.filter(registry=registry).count() == 3
    # it ran in the worker process, not eagerly in this one (the worker logs "succeeded" once
    # the task returns, a moment after the crawl's row says done)
    assert wait_until(lambda: "succeeded" in celery_worker.log(), timeout=30)
    assert "inventory.run_crawl[" in celery_worker.log()
