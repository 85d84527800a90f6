"""Access pages: users and their roles, login lockouts, and the admin-action log (Admins only)."""

import ipaddress

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from governance.access.htmx import wants_fragment
from governance.access.lockouts import locked_addresses, locked_usernames
from governance.access.models import AdminAction
from governance.access.roles import ADMIN, ROLE_ORDER, role_required, user_role
from governance.access.services import RoleChangeRefused, set_user_role, unlock_login


@role_required(ADMIN)
def admin_action_list(request):
    """Every recorded admin action, newest first."""
    page = Paginator(AdminAction.objects.select_related("actor"), 50).get_page(
        request.GET.get("page")
    )
    return render(request, "governance/adminaction_list.html", {"page": page})


@role_required(ADMIN)
def admin_action_detail(request, pk: int):
    """One admin action, its before/after in full."""
    action = get_object_or_404(AdminAction.objects.select_related("actor"), pk=pk)
    return render(request, "governance/adminaction_detail.html", {"a": action})


def _user_rows(users, locked=frozenset()):
    return [{"user": u, "role": user_role(u), "locked": u.get_username() in locked} for u in users]


@role_required(ADMIN)
def user_list(request):
    """Every account and its role, and the login lockouts; Admins change roles and unlock here."""
    users = User.objects.prefetch_related("groups").order_by("username")
    usernames = locked_usernames()
    return render(
        request,
        "governance/user_list.html",
        {
            "rows": _user_rows(users, {row["key"] for row in usernames}),
            "roles": ROLE_ORDER,
            "locked_usernames": usernames,
            "locked_addresses": locked_addresses(),
            "failure_limit": settings.AXES_FAILURE_LIMIT,
        },
    )


@require_POST
@role_required(ADMIN)
def user_unlock(request, pk: int):
    """Lift a user's login lockout (recorded)."""
    user = get_object_or_404(User, pk=pk)
    unlock_login(actor=request.user, username=user.get_username(), obj=user, request=request)
    messages.success(request, f"{user.get_username()} may log in again.")
    return redirect("governance:user_list")


@require_POST
@role_required(ADMIN)
def lockout_unlock(request):
    """Lift the lockout of a username (with no account) or of an address (recorded)."""
    username = request.POST.get("username", "").strip()
    address = request.POST.get("ip_address", "").strip()
    if address:
        try:
            address = str(ipaddress.ip_address(address))
        except ValueError:
            return HttpResponseBadRequest(f"ip_address: {address!r} is not an IP address")
    if not username and not address:
        return HttpResponseBadRequest("username or ip_address: one is required")
    unlock_login(actor=request.user, username=username, ip_address=address, request=request)
    messages.success(request, f"{username or address} may log in again.")
    return redirect("governance:user_list")


@require_POST
@role_required(ADMIN)
def user_role_set(request, pk: int):
    """Give a user one role, or none (recorded; the service refuses one's own role)."""
    user = get_object_or_404(User, pk=pk)
    role = request.POST.get("role", "")
    try:
        set_user_role(actor=request.user, user=user, role=role or None, request=request)
    except RoleChangeRefused as exc:
        return HttpResponseBadRequest(str(exc))
    user = User.objects.get(pk=pk)  # drop the cached role
    if wants_fragment(request):
        return render(
            request,
            "governance/_user_row.html",
            {"row": _user_rows([user])[0], "roles": ROLE_ORDER, "saved": True},
        )
    messages.success(request, f"{user.get_username()} now has the role {role or 'none'}.")
    return redirect("governance:user_list")
