"""The Celery app. Tasks are thin: they take ids and call one service (see STYLE.md)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")

app = Celery("governance")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Discovery schedule (intervals in seconds, from env). The registry tick only queues crawls of
# registries whose own crawl_interval_minutes (60 by default) has elapsed.
app.conf.beat_schedule.update({
    "crawl-due-registries": {
        "task": "inventory.crawl_due_registries",
        "schedule": float(os.environ.get("REGISTRY_CRAWL_TICK_SECONDS", 15 * 60)),
    },
    "crawl-cimd-documents": {
        "task": "inventory.crawl_cimd_documents",
        # Looks for due documents this often; a sweep runs only when one is due.
        "schedule": float(os.environ.get("CIMD_CRAWL_INTERVAL_SECONDS", 15 * 60)),
    },
    "crawl-oauth-metadata": {
        "task": "inventory.crawl_oauth_metadata",
        "schedule": float(os.environ.get("OAUTH_METADATA_CRAWL_INTERVAL_SECONDS", 24 * 60 * 60)),
    },
    "sweep-crawls": {
        "task": "inventory.sweep_crawls",
        "schedule": float(os.environ.get("CRAWL_SWEEP_INTERVAL_SECONDS", 5 * 60)),
    },
})
