"""Governance pages: overview dashboard, health check, the admin-action log, users and roles."""

from django.contrib import messages
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from governance import charts, queries
from governance.celery import app as celery_app
from governance.htmx import wants_fragment
from governance.models import AdminAction
from governance.roles import ADMIN, ROLE_ORDER, VIEWER, role_required, user_role
from governance.services import set_user_role
from inventory.models import Client, Grant, Task


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
    """Headline counts, charts and the grants about to expire (a handful of aggregate queries)."""
    top_clients = queries.top_clients_by_active_grants()
    activity = queries.audit_activity()
    return render(request, "governance/overview.html", {
        "activity": activity,
        "chart_events": charts.events_chart(activity["per_hour"]),
        "chart_top_tools": charts.top_tools_chart(activity["top_tools"]),
        "counts": queries.overview_counts(),
        "expiring": queries.grants_expiring_soon(),
        "top_clients": top_clients,
        "chart_grants": charts.grants_chart(queries.grants_by_status_and_type(),
                                            dict(Grant.GrantType.choices)),
        "chart_tasks": charts.tasks_chart(queries.tasks_by_status(),
                                          dict(Task.Status.choices)),
        "chart_registrations": charts.registrations_chart(queries.clients_by_registration(),
                                                          dict(Client.Registration.choices)),
        "chart_top_clients": charts.top_clients_chart(top_clients),
    })


@role_required(VIEWER)
def governance_home(request):
    """Entry point to the governance tools the user's role allows."""
    return render(request, "governance/home.html", {})


@role_required(ADMIN)
def admin_action_list(request):
    """Every recorded admin action, newest first."""
    page = Paginator(AdminAction.objects.select_related("actor"), 50).get_page(
        request.GET.get("page"))
    return render(request, "governance/adminaction_list.html", {"page": page})


def _user_rows(users):
    return [{"user": u, "role": user_role(u)} for u in users]


@role_required(ADMIN)
def user_list(request):
    """Every account and its role; Admins change roles here."""
    users = User.objects.prefetch_related("groups").order_by("username")
    return render(request, "governance/user_list.html",
                  {"rows": _user_rows(users), "roles": ROLE_ORDER})


@require_POST
@role_required(ADMIN)
def user_role_set(request, pk: int):
    """Give a user one role, or none (recorded). An admin cannot change their own role."""
    user = get_object_or_404(User, pk=pk)
    role = request.POST.get("role", "")
    if role and role not in ROLE_ORDER:
        return HttpResponseBadRequest(f"role: {role!r} is not one of {', '.join(ROLE_ORDER)}")
    if user.pk == request.user.pk:
        return HttpResponseBadRequest("role: you cannot change your own role")
    set_user_role(actor=request.user, user=user, role=role or None, request=request)
    user = User.objects.get(pk=pk)  # drop the cached role
    if wants_fragment(request):
        return render(request, "governance/_user_row.html",
                      {"row": _user_rows([user])[0], "roles": ROLE_ORDER, "saved": True})
    messages.success(request, f"{user.get_username()} now has the role {role or 'none'}.")
    return redirect("governance:user_list")
