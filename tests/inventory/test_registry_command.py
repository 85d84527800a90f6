"""`manage.py crawl_registry URL` runs a crawl inline and prints a summary."""

import io

import pytest
from django.core.management import CommandError, call_command

from governance.access.models import AdminAction
from inventory.models import Crawl, Registry, ServerVersion
from inventory.services import registry as registry_service
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
    assert AdminAction.objects.filter(
        action="registry.created", object_id=str(registry.pk)
    ).exists()
    crawls = Crawl.objects.filter(registry=registry).order_by("pk")
    assert [(c.status, c.requested_by, c.options) for c in crawls] == [
        ("done", "command", {}),
        ("done", "command", {"full": True}),
    ]
    assert ServerVersion.objects.filter(registry=registry).count() == 2
    text = out.getvalue()
    assert "records 2, errors 0" in text and "2 new" in text and "2 unchanged" in text
    assert f"added registry '{registry.name}' (#{registry.pk})" in text
    assert f"using the existing registry '{registry.name}' (#{registry.pk})" in text


def test_the_command_fails_loudly_when_the_registry_is_unreachable():
    with running_registry([], api_versions=()) as fake:
        with pytest.raises(CommandError, match="failed"):
            call_command("crawl_registry", fake.url, stdout=io.StringIO(), stderr=io.StringIO())


def test_the_command_refuses_a_url_that_is_not_http():
    with pytest.raises(CommandError, match="http"):
        call_command("crawl_registry", "file:///etc/passwd", stdout=io.StringIO())


# --- the same registry added by an admin between the command's lookup and its save -------------


@pytest.fixture
def rival(monkeypatch):
    """Another admin adds a registry after registry_for_url found none for the URL (and checked
    the name) and before its save: the save meets the unique constraint."""

    def add_rival(name, base_url):
        real = registry_service.create_registry

        def looked_up_then_taken(*args, **kwargs):
            Registry.objects.create(name=name, base_url=base_url)
            return real(*args, **kwargs)

        monkeypatch.setattr(registry_service, "create_registry", looked_up_then_taken)

    return add_rival


def test_a_registry_added_meanwhile_for_the_url_is_used_even_under_another_name(rival):
    out = io.StringIO()
    with running_registry([entry(example("context7"))]) as fake:
        rival("theirs", fake.url)
        call_command("crawl_registry", fake.url + "/v0.1/", stdout=out, stderr=io.StringIO())
    registry = Registry.objects.get()  # one row: theirs, not a second one
    assert (registry.name, registry.base_url) == ("theirs", fake.url)
    assert not AdminAction.objects.filter(action="registry.created").exists()
    crawl = Crawl.objects.get()
    assert (crawl.registry_id, crawl.status) == (registry.pk, "done")
    assert ServerVersion.objects.filter(registry=registry).count() == 1
    text = out.getvalue()
    assert f"using the existing registry 'theirs' (#{registry.pk}) for {fake.url}" in text
    assert "records 1, errors 0" in text


def test_a_name_taken_meanwhile_by_a_registry_with_another_url_is_a_command_error(rival):
    rival("r.corp.example", "https://r.elsewhere.example")  # the name the command would pick
    with pytest.raises(CommandError) as error:
        call_command("crawl_registry", "https://r.corp.example", stdout=io.StringIO())
    assert str(error.value) == (
        "cannot add a registry for https://r.corp.example: "
        "name: Registry with this Name already exists."
    )
    assert Registry.objects.get().base_url == "https://r.elsewhere.example"
    assert not Crawl.objects.exists()
