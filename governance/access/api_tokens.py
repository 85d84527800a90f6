"""API tokens for automation: create (the secret is returned once), revoke, and the DRF
`Authorization: Bearer` authentication that uses them.

A token's scope caps the role its requests get (read = Viewer, export = Auditor, admin = Admin),
and never lifts it: the effective role is the lower of the scope and the owner's role *now*, so
demoting the owner demotes every token of theirs at once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from governance.access.models import ApiToken
from governance.access.records import record_admin_action
from governance.access.roles import ADMIN, AUDITOR, ROLE_ORDER, VIEWER, has_role, user_role
from governance.access.services import set_user_role

SCOPE_ROLE = {
    ApiToken.Scope.READ: VIEWER,
    ApiToken.Scope.EXPORT: AUDITOR,
    ApiToken.Scope.ADMIN: ADMIN,
}
TOKEN_PREFIX = "mgc_"  # so a leaked token is recognisable (and greppable by secret scanners)
SERVICE_USER_PREFIX = "svc-"
# last_used_at is written at most this often per token, not on every request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenRefused(ValueError):
    """A token request the rules forbid; the message names the field."""


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def scopes_for(user) -> list[str]:
    """The scopes `user` may give a token: none above their own role."""
    return [scope for scope, role in SCOPE_ROLE.items() if has_role(user, role)]


def _expiry(days: int | None, now):
    limit = settings.API_TOKEN_MAX_DAYS
    days = settings.API_TOKEN_DEFAULT_DAYS if days is None else days
    if not 1 <= days <= limit:
        raise TokenRefused(f"expires_in_days: must be between 1 and {limit} days.")
    return now + timedelta(days=days)


@transaction.atomic
def create_token(
    *, actor, name: str, scope: str, days: int | None = None, owner=None, request=None
) -> tuple[ApiToken, str]:
    """A new token for `owner` (default: the actor). Returns (token, secret); the secret is
    never stored or recorded, so this is the only time anyone sees it."""
    owner = owner or actor
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise TokenRefused("name: required, at most 100 characters.")
    if scope not in SCOPE_ROLE:
        raise TokenRefused(f"scope: must be one of {', '.join(SCOPE_ROLE)}.")
    if owner != actor and not has_role(actor, ADMIN):
        raise TokenRefused("owner: only an Admin may create a token for someone else.")
    if scope not in scopes_for(owner) or scope not in scopes_for(actor):
        raise TokenRefused(f"scope: {scope} is above the owner's role ({user_role(owner)}).")
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=owner,
        name=name,
        scope=scope,
        prefix=secret[:12],
        secret_hash=hash_secret(secret),
        created_by=actor,
        expires_at=_expiry(days, timezone.now()),
    )
    record_admin_action(
        actor=actor, action="api_token.created", obj=token, request=request, after=_snapshot(token)
    )
    return token, secret


@transaction.atomic
def create_service_token(
    *, actor, service: str, scope: str, days: int | None = None, name: str = "", request=None
) -> tuple[ApiToken, str]:
    """A token for a service account `svc-<service>` (created on first use, in the group the
    scope needs, with an unusable password so it can never sign in to the console)."""
    if not has_role(actor, ADMIN):
        raise TokenRefused("owner: only an Admin may create service tokens.")
    service = (service or "").strip()
    if not service or len(service) > 100 or not service.replace("-", "").replace("_", "").isalnum():
        raise TokenRefused("service: required; letters, digits, '-' and '_' only.")
    if scope not in SCOPE_ROLE:
        raise TokenRefused(f"scope: must be one of {', '.join(SCOPE_ROLE)}.")
    user, created = get_user_model().objects.get_or_create(username=SERVICE_USER_PREFIX + service)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
        record_admin_action(
            actor=actor,
            action="user.service_account_created",
            obj=user,
            request=request,
            object_repr=user.username,
        )
    needed = SCOPE_ROLE[scope]
    if not has_role(user, needed):
        set_user_role(actor=actor, user=user, role=needed, request=request)  # recorded
        user._console_role = False  # drop the cached role
    return create_token(
        actor=actor, name=name or service, scope=scope, days=days, owner=user, request=request
    )


@transaction.atomic
def revoke_token(*, actor, token_id: int, request=None) -> ApiToken:
    """Revoke a token: its owner or an Admin. Revoking twice is a no-op (recorded once)."""
    token = ApiToken.objects.select_for_update().get(pk=token_id)
    if token.user_id != actor.pk and not has_role(actor, ADMIN):
        raise ApiToken.DoesNotExist  # someone else's token: as if it did not exist
    if token.revoked_at is None:
        before = _snapshot(token)
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        record_admin_action(
            actor=actor,
            action="api_token.revoked",
            obj=token,
            request=request,
            before=before,
            after=_snapshot(token),
        )
    return token


def _snapshot(token: ApiToken) -> dict:
    # Never the hash either: it is not the secret, but nobody needs it in the record.
    return {
        "owner": token.user.get_username(),
        "name": token.name,
        "scope": token.scope,
        "prefix": token.prefix,
        "expires_at": token.expires_at,
        "revoked_at": token.revoked_at,
    }


def effective_role(token: ApiToken) -> str | None:
    """The lower of the token's scope and its owner's current role."""
    role = user_role(token.user)
    if role is None:
        return None
    return ROLE_ORDER[min(ROLE_ORDER.index(role), ROLE_ORDER.index(SCOPE_ROLE[token.scope]))]


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>` with an API token. The lookup is by SHA-256 of the
    presented secret, so no secret is compared byte by byte (nothing to time)."""

    keyword = "Bearer"
    invalid = "Invalid or expired API token."

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Authorization header: expected 'Bearer <token>' with no spaces in the token."
            )
        try:
            secret = parts[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed(self.invalid) from None
        token = (
            ApiToken.objects.select_related("user").filter(secret_hash=hash_secret(secret)).first()
        )
        now = timezone.now()
        if token is None or not token.is_usable(now) or not token.user.is_active:
            raise exceptions.AuthenticationFailed(self.invalid)
        self._touch(token, now)
        user = token.user
        # Caps every role check of this request (governance.access.roles.user_role reads it).
        user._console_role = effective_role(token)
        return user, token

    def authenticate_header(self, request):
        return 'Bearer realm="api"'

    @staticmethod
    def _touch(token: ApiToken, now) -> None:
        # One conditional UPDATE, at most once a minute per token: no write per request.
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
            ApiToken.objects.filter(pk=token.pk).exclude(
                last_used_at__gt=now - LAST_USED_RESOLUTION
            ).update(last_used_at=now)


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """Names the token scheme in the OpenAPI schema (and so in the API docs page)."""

    target_class = "governance.access.api_tokens.BearerTokenAuthentication"
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token from Governance -> API tokens.",
        }
