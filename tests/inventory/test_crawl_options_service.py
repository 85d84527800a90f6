"""`crawl_registry --full` taking over a queued crawl goes through a service: the change of
options is a conditional UPDATE (never a crawl a worker already claimed) and is recorded."""

import pytest
from django.utils import timezone

from governance.access.models import AdminAction
from inventory.models import Crawl, Registry
from inventory.services.registry import make_queued_crawl_full

pytestmark = pytest.mark.django_db


def crawl_in(status):
    registry = Registry.objects.create(name=f"corp-{status}", base_url=f"https://{status}.example")
    return Crawl.objects.create(
        kind="registry",
        target=registry.base_url,
        registry=registry,
        status=status,
        queued_at=timezone.now(),
    )


def test_a_queued_crawl_is_made_full_and_the_change_is_recorded():
    crawl = crawl_in("queued")
    assert make_queued_crawl_full(crawl) is True
    crawl.refresh_from_db()
    assert crawl.options == {"full": True}
    action = AdminAction.objects.get(action="crawl.options_changed")
    assert (action.before, action.after) == ({"options": {}}, {"options": {"full": True}})


def test_a_crawl_a_worker_already_claimed_keeps_its_options_and_nothing_is_recorded():
    crawl = crawl_in("running")
    assert make_queued_crawl_full(crawl) is False
    crawl.refresh_from_db()
    assert crawl.options == {} and not AdminAction.objects.exists()
