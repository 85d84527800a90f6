"""Roles: Viewer < Auditor < Admin, enforced server-side on every page and API endpoint.

A role is a Django group of the same name; superusers are Admins. A user with no role
sees nothing (403). Login is required everywhere except the paths in PUBLIC_PATH_PREFIXES
(health check, ingest endpoints that authenticate with their own bearer tokens, login); the rest
of the API also takes an API token (governance/access/api_tokens.py), whose scope caps the role.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from rest_framework.permissions import BasePermission

VIEWER, AUDITOR, ADMIN = "Viewer", "Auditor", "Admin"
ROLE_ORDER = [VIEWER, AUDITOR, ADMIN]

# Paths that do their own authentication (or none, for /healthz and the login page).
PUBLIC_PATH_PREFIXES = (
    "/healthz",
    "/accounts/login/",
    "/accounts/oidc/",  # company sign-in's start and callback (governance/sso)
    "/static/",
    "/api/v1/events",  # bearer token of an event source
    "/v1/traces",  # OTLP, bearer token of an event source
    "/v1/logs",
)


def user_role(user) -> str | None:
    """The highest role the user holds, or None."""
    if not user or not user.is_authenticated or not user.is_active:
        return None
    # Cached first: an API token's cap (governance.access.api_tokens) also binds a superuser.
    cached = getattr(user, "_console_role", False)
    if cached is not False:
        return cached
    if user.is_superuser:
        return ADMIN
    names = {group.name for group in user.groups.all()}  # uses a prefetch (the users page)
    role = next((r for r in reversed(ROLE_ORDER) if r in names), None)
    user._console_role = role
    return role


def has_role(user, needed: str) -> bool:
    """True when the user's role is `needed` or higher."""
    role = user_role(user)
    return role is not None and ROLE_ORDER.index(role) >= ROLE_ORDER.index(needed)


def role_required(needed: str):
    """View decorator: login, then at least `needed`, else 403 (never a 500)."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
            if not has_role(request.user, needed):
                raise PermissionDenied(f"This page needs the {needed} role.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


class LoginRequiredEverywhereMiddleware:
    """Default-deny: anonymous requests outside the public paths go to the login page.

    Views still check roles; this catches any view that forgot to.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path
        if not request.user.is_authenticated and not path.startswith(PUBLIC_PATH_PREFIXES):
            if path.startswith("/api/"):
                # An API token is checked by DRF (governance.access.api_tokens), which answers
                # 401 itself.
                if _has_bearer(request):
                    return self.get_response(request)
                return _api_unauthenticated()
            return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
        return self.get_response(request)


API_ACCEPTS = (
    "The API accepts a console session (sign in) or an API token sent as "
    "'Authorization: Bearer <token>' (Governance -> API tokens); Basic authentication "
    "is not accepted."
)


def _has_bearer(request) -> bool:
    return request.META.get("HTTP_AUTHORIZATION", "").lower().startswith("bearer ")


def _api_unauthenticated():
    response = JsonResponse(
        {"detail": "Authentication credentials were not provided. " + API_ACCEPTS}, status=401
    )
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


class _RolePermission(BasePermission):
    role = VIEWER

    def has_permission(self, request, view):
        return has_role(request.user, self.role)


class IsViewer(_RolePermission):
    role = VIEWER
    message = "This endpoint needs the Viewer role."


class IsAuditor(_RolePermission):
    role = AUDITOR
    message = "This endpoint needs the Auditor role."


class IsAdmin(_RolePermission):
    role = ADMIN
    message = "This endpoint needs the Admin role."


def role_context(request):
    """Template context: the user's role and what it may see."""
    user = getattr(request, "user", None)
    return {
        "console_role": user_role(user),
        "can_audit": has_role(user, AUDITOR) if user else False,
        "can_admin": has_role(user, ADMIN) if user else False,
    }
