"""The Celery app. Tasks are thin: they take ids and call one service (see STYLE.md)."""

import os

from celery import Celery, signals
from django.conf import settings
from kombu.transport import TRANSPORT_ALIASES

from governance.platform import localfiles

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")

# "filesystem://" names our atomic-write subclass of kombu's transport (platform/broker.py: a
# worker could read a half-written message and die).
TRANSPORT_ALIASES["filesystem"] = "governance.platform.broker:Transport"

app = Celery("governance")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Packages inside the governance app with their own tasks (the job sweeper, IdP syncs, the
# finding rules, access reviews, alert delivery and forwarding).
app.autodiscover_tasks(
    [
        "governance.platform",
        "governance.idp",
        "governance.findings",
        "governance.reviews",
        "governance.alerts",
    ]
)


@signals.celeryd_init.connect
@signals.beat_init.connect
def _make_local_folders(**kwargs):
    # A worker or beat may be the first process on a fresh VAR_DIR (settings writes nothing).
    localfiles.ensure_folders(settings)
