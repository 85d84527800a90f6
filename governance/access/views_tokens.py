"""Governance -> API tokens: everyone with a role manages their own; Admins see and revoke all,
and create service tokens. The secret is shown once, on the page that answers the create POST."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.validators import MaxValueValidator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from governance.access import api_tokens
from governance.access.models import ApiToken
from governance.access.roles import ADMIN, VIEWER, has_role, role_required


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100)
    scope = forms.ChoiceField(choices=ApiToken.Scope.choices)
    expires_in_days = forms.IntegerField(min_value=1, label="Expires in (days)")
    service = forms.CharField(
        max_length=100,
        required=False,
        help_text="Admins: a service name makes a token for the service "
        "account svc-<name> instead of for you.",
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = api_tokens.scopes_for(user)
        self.fields["scope"].choices = [c for c in ApiToken.Scope.choices if c[0] in allowed]
        # A validator, not `.max_value =`: a field builds its validators in __init__ only.
        self.fields["expires_in_days"].validators.append(
            MaxValueValidator(settings.API_TOKEN_MAX_DAYS)
        )
        self.fields["expires_in_days"].initial = settings.API_TOKEN_DEFAULT_DAYS
        self.fields["expires_in_days"].widget.attrs["max"] = settings.API_TOKEN_MAX_DAYS
        if not has_role(user, ADMIN):
            del self.fields["service"]


@role_required(VIEWER)
def token_list(request):
    """The user's tokens (an Admin's list has everyone's) and the create form."""
    form = TokenForm(request.POST if request.method == "POST" else None, user=request.user)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            token, secret = _create(request, data)
        except api_tokens.TokenRefused as exc:
            form.add_error(None, str(exc))
        else:
            response = render(
                request, "governance/api_token_created.html", {"token": token, "secret": secret}
            )
            response["Cache-Control"] = "no-store"  # the secret must not sit in a cache
            return response
    tokens = ApiToken.objects.select_related("user")
    if not has_role(request.user, ADMIN):
        tokens = tokens.filter(user=request.user)
    return render(
        request,
        "governance/api_token_list.html",
        {"tokens": tokens, "form": form, "now": timezone.now()},
        status=400 if form.errors else 200,
    )


def _create(request, data):
    if data.get("service"):
        return api_tokens.create_service_token(
            actor=request.user,
            service=data["service"],
            name=data["name"],
            scope=data["scope"],
            days=data["expires_in_days"],
            request=request,
        )
    return api_tokens.create_token(
        actor=request.user,
        name=data["name"],
        scope=data["scope"],
        days=data["expires_in_days"],
        request=request,
    )


@require_POST
@role_required(VIEWER)
def token_revoke(request, pk: int):
    """Revoke one token: its owner's or, for an Admin, anyone's (recorded)."""
    try:
        token = api_tokens.revoke_token(actor=request.user, token_id=pk, request=request)
    except ApiToken.DoesNotExist:
        raise Http404("No such token.") from None
    messages.success(request, f"Token {token.prefix}… revoked.")
    return redirect("governance:api_token_list")
