"""Celery tasks: thin, take ids, call one service, safe to run twice (see STYLE.md)."""

from celery import shared_task

from inventory.services import crawls
from inventory.services.cimd import documents_due
from inventory.services.inventory_rules import run_task_past_ttl
from inventory.services.oauth_metadata import ALL_REMOTES_TARGET
from inventory.services.registry import start_due_registry_crawls


@shared_task(name="inventory.run_crawl", acks_late=True)
def run_crawl(crawl_id: int) -> str:
    """Run one crawl; a duplicate delivery finds it already claimed and does nothing."""
    return crawls.execute_crawl(crawl_id)


@shared_task(name="inventory.crawl_due_registries")
def crawl_due_registries() -> list[int]:
    """Beat: queue crawls of the registries whose interval has elapsed."""
    return start_due_registry_crawls()


@shared_task(name="inventory.crawl_cimd_documents")
def crawl_cimd_documents() -> int | None:
    """Beat: queue a sweep when some CIMD document is due. Each document's next fetch follows its
    Cache-Control within CIMD_REFRESH_MIN/MAX_SECONDS, so every one is re-read at least daily."""
    if not documents_due():
        return None
    return crawls.start_crawl(kind="cimd", target=crawls.CIMD_SWEEP_TARGET, requested_by="beat").pk


@shared_task(name="inventory.crawl_oauth_metadata")
def crawl_oauth_metadata() -> int:
    """Beat: queue the re-read of every server remote's OAuth metadata."""
    return crawls.start_crawl(
        kind="oauth_metadata", target=ALL_REMOTES_TARGET, requested_by="beat"
    ).pk


@shared_task(name="inventory.flag_tasks_past_ttl")
def flag_tasks_past_ttl() -> dict:
    """Beat: flag tasks still running after their TTL; close the flags of those that ended (as
    the rule's settings say: an Admin may have changed its severity or turned it off)."""
    return run_task_past_ttl()
