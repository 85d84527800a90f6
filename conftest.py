"""Test bootstrap: start the embedded PostgreSQL (unless DATABASE_URL is set) and stop it after."""

import os

import pytest

# Fixtures shared by test modules in every app folder (a test asks for them by name):
# `granian`/`base_url` (the production web server), `celery_worker`, `capture` (an OTLP collector).
pytest_plugins = ["tests.web_server", "tests.celery_worker", "tests.otlp_support"]

_started_here = False


def pytest_sessionstart(session):
    global _started_here
    if os.environ.get("DATABASE_URL"):
        return
    from django.conf import settings

    from governance.platform import devdb

    # fsync off: a throwaway test cluster, rebuilt from migrations whenever needed.
    _started_here = devdb.ensure_running(settings.EMBEDDED_PGDATA, fast_and_unsafe=True)


def pytest_sessionfinish(session, exitstatus):
    if _started_here:
        from django.conf import settings

        from governance.platform import devdb

        devdb.stop(settings.EMBEDDED_PGDATA)


@pytest.fixture(autouse=True)
def _celery_eager():
    """Unit tests run Celery tasks inline; integration tests start a real worker explicitly."""
    from governance.celery import app

    app.conf.task_always_eager = True
    yield
