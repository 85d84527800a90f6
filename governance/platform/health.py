"""The health check for load balancers and orchestrators: database and broker reachability.

No login (it is in PUBLIC_PATH_PREFIXES) and no app code: it asks PostgreSQL for `SELECT 1`
and the Celery broker for a connection (the project's app, made current by governance/__init__,
so the platform does not import the project's config).
"""

from celery import current_app as celery_app
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


@require_GET
def healthz(request):
    """Database and broker reachability, for load balancers and orchestrators (no login)."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "degraded", **checks}, status=200 if healthy else 503
    )


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"error: {type(exc).__name__}"


def _check_broker() -> str:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:  # noqa: BLE001
        return f"error: {type(exc).__name__}"
