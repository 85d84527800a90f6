"""Sign-in pages: the login page (company sign-in first, the local form when allowed), the
start and callback of company sign-in, and sign-out (ending the IdP's session too when the IdP
advertises RP-initiated logout)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth import views as auth_views
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from governance.sso import client, services

SESSION_NEXT = "oidc_next"  # where to go after signing in
SESSION_ID_TOKEN = "oidc_id_token"  # the id_token_hint of RP-initiated logout
BACKEND = "governance.access.backends.LocalPasswordBackend"


def sso_context() -> dict:
    return {
        "sso_enabled": client.enabled(),
        "sso_name": settings.OIDC_PROVIDER_NAME,
        "local_login_enabled": settings.LOCAL_LOGIN_ENABLED,
    }


class LoginView(auth_views.LoginView):
    """Django's login form, beside "Sign in with <IdP>"; refuses passwords when local login is
    off (before any password is checked, so nothing is counted towards a lockout)."""

    def get_context_data(self, **kwargs):
        return {**super().get_context_data(**kwargs), **sso_context()}

    def post(self, request, *args, **kwargs):
        if not settings.LOCAL_LOGIN_ENABLED:
            context = self.get_context_data(local_login_refused=True)
            return render(request, self.template_name, context, status=403)
        return super().post(request, *args, **kwargs)


@require_POST
def sign_in_start(request):
    """Send the browser to the IdP (state, nonce and PKCE verifier kept in the session)."""
    if not client.enabled():
        raise Http404("Company sign-in is not configured.")
    next_url = request.POST.get("next", "")
    safe = url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    request.session[SESSION_NEXT] = next_url if safe else ""
    try:
        app = client.oidc_app()
    except client.SignInError as exc:
        return _failed(request, str(exc), status=502)
    callback = request.build_absolute_uri(reverse("governance:sso_callback"))
    return app.authorize_redirect(request, callback)


@require_GET
def sign_in_callback(request):
    """The IdP's answer: verified claims → the console user and role → signed in (or why not)."""
    if not client.enabled():
        raise Http404("Company sign-in is not configured.")
    try:
        claims, id_token = client.verified_claims(request)
    except client.SignInError as exc:
        return _failed(request, str(exc), status=400)
    try:
        outcome = services.sign_in_from_claims(
            issuer=settings.OIDC_ISSUER, claims=claims, request=request
        )
    except ImproperlyConfigured as exc:  # `manage.py check` says so too (governance/sso/checks)
        return _failed(request, f"the console's sign-in settings are wrong: {exc}", status=503)
    if not outcome.user.is_active:
        return _failed(request, "your account is disabled in this console", status=403)
    if outcome.role is None:
        context = {**sso_context(), "who": services.display_name(outcome.user)}
        return render(request, "registration/sso_no_role.html", context, status=403)
    next_url = request.session.pop(SESSION_NEXT, "")
    login(request, outcome.user, backend=BACKEND)  # a new session key, the state data kept
    request.session[SESSION_ID_TOKEN] = id_token
    return redirect(next_url or settings.LOGIN_REDIRECT_URL)


@require_POST
def sign_out(request):
    """End the console session; then the IdP's, when it advertises end_session_endpoint."""
    id_token = request.session.get(SESSION_ID_TOKEN, "")
    auth_logout(request)
    login_url = request.build_absolute_uri(resolve_url(settings.LOGOUT_REDIRECT_URL))
    return redirect(client.end_session_url(id_token, login_url) or login_url)


def _failed(request, reason: str, *, status: int):
    context = {**sso_context(), "reason": reason}
    return render(request, "registration/sso_error.html", context, status=status)
