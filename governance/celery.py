"""The Celery app. Tasks are thin: they take ids and call one service (see STYLE.md)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")

app = Celery("governance")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# The shared layer is no app; its tasks (the job sweeper) are found here.
app.autodiscover_tasks(["governance.platform"])
