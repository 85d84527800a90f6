"""`manage.py crawl_registry URL` runs a crawl inline and prints a summary."""

import io

import pytest
from django.core.management import CommandError, call_command

from governance.models import AdminAction
from inventory.models import Crawl, Registry, ServerVersion
from tests.fixtures.registry_server import entry, example, running_registry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _allow_loopback(settings):
    settings.FETCH_ALLOWLIST = ["127.0.0.1"]


def test_the_command_adds_the_registry_crawls_it_inline_and_prints_a_summary():
    out = io.StringIO()
    with running_registry([entry(example("context7")), entry(example("playwright"))]) as fake:
        call_command("crawl_registry", fake.url + "/v0.1", stdout=out, stderr=io.StringIO())
        call_command("crawl_registry", fake.url, "--full", stdout=out, stderr=io.StringIO())
    registry = Registry.objects.get(base_url=fake.url)
    assert AdminAction.objects.filter(action="registry.created", object_id=str(registry.pk)).exists()
    crawls = Crawl.objects.filter(registry=registry).order_by("pk")
    assert [(c.status, c.requested_by, c.options) for c in crawls] == [
        ("done", "command", {}), ("done", "command", {"full": True})]
    assert ServerVersion.objects.filter(registry=registry).count() == 2
    text = out.getvalue()
    assert "records 2, errors 0" in text and "2 new" in text and "2 unchanged" in text


def test_the_command_fails_loudly_when_the_registry_is_unreachable():
    with running_registry([], api_versions=()) as fake:
        with pytest.raises(CommandError, match="failed"):
            call_command("crawl_registry", fake.url, stdout=io.StringIO(), stderr=io.StringIO())


def test_the_command_refuses_a_url_that_is_not_http():
    with pytest.raises(CommandError, match="http"):
        call_command("crawl_registry", "file:///etc/passwd", stdout=io.StringIO())
