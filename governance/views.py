"""Governance pages: overview dashboard, health check, the admin-action log."""

from django.core.paginator import Paginator
from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from governance.celery import app as celery_app
from governance.models import AdminAction
from governance.roles import ADMIN, VIEWER, role_required


@require_GET
def healthz(request):
    """Database and broker reachability, for load balancers and orchestrators (no login)."""
    checks = {"database": _check_database(), "broker": _check_broker()}
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "degraded", **checks},
                        status=200 if healthy else 503)


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


@role_required(VIEWER)
def overview(request):
    return render(request, "governance/overview.html", {})


@role_required(VIEWER)
def governance_home(request):
    return render(request, "governance/home.html", {})


@role_required(ADMIN)
def admin_action_list(request):
    """Every recorded admin action, newest first."""
    page = Paginator(AdminAction.objects.select_related("actor"), 50).get_page(
        request.GET.get("page"))
    return render(request, "governance/adminaction_list.html", {"page": page})
