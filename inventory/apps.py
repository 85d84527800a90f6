from operator import attrgetter

from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Inventory"

    def ready(self):
        # Crawls are a job kind: the engine sends `run_crawl` for them, picks the runner by
        # `Crawl.kind`, and its sweeper covers them. Registered here rather than where the
        # runners live, so services/crawls.py, the runners and tasks.py never import each other
        # in a cycle.
        from governance.platform import jobs
        from inventory import tasks
        from inventory.models import Crawl
        from inventory.services.cimd import run_cimd_crawl
        from inventory.services.oauth_metadata import run_oauth_metadata_crawl
        from inventory.services.registry import run_registry_crawl

        jobs.register_job_kind(Crawl, enqueue=tasks.run_crawl.delay, runner_key=attrgetter("kind"))
        jobs.register_runner(Crawl, Crawl.Kind.REGISTRY, run_registry_crawl)
        jobs.register_runner(Crawl, Crawl.Kind.CIMD, run_cimd_crawl)
        jobs.register_runner(Crawl, Crawl.Kind.OAUTH_METADATA, run_oauth_metadata_crawl)
