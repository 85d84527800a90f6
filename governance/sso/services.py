"""Company sign-in's writes: the console user for an IdP subject, their role from the IdP's
groups on every sign-in (a group taken away takes the role away), each sign-in recorded."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from governance.access.records import record_admin_action
from governance.access.roles import ROLE_ORDER
from governance.access.services import ensure_role_groups
from governance.sso.roles import claim_values, role_for

# A local username can never contain ":" (Django's username validator), so these never collide.
USERNAME_PREFIX = "oidc:"


@dataclass
class SignIn:
    """Who signed in and the role the IdP's groups gave them (None: no role here)."""

    user: object
    role: str | None
    created: bool


def sso_username(issuer: str, subject: str) -> str:
    """The stable username of an IdP subject: `sub` is unique only within its issuer, and
    either may be long, so the pair is hashed (the e-mail and name are kept beside it)."""
    digest = hashlib.sha256(f"{issuer}\n{subject}".encode()).hexdigest()[:40]
    return f"{USERNAME_PREFIX}{digest}"


@transaction.atomic
def sign_in_from_claims(*, issuer: str, claims: dict, request=None) -> SignIn:
    """Create or update the user for verified ID token claims, set their role, record both.

    The role is always the one OIDC_ROLE_MAP gives the role claim now: a role given by hand in
    the console is replaced at the user's next sign-in (the IdP's groups are the truth)."""
    subject = str(claims["sub"])
    user, created = get_user_model().objects.get_or_create(
        username=sso_username(issuer, subject),
        defaults={"password": "!"},  # unusable password
    )
    _update_profile(user, claims)
    role = role_for(claims.get(settings.OIDC_ROLE_CLAIM))
    before = _set_role(user, role)
    facts = {
        "issuer": issuer,
        "sub": subject,
        "email": user.email,
        "name": user.get_full_name(),
        settings.OIDC_ROLE_CLAIM: sorted(claim_values(claims.get(settings.OIDC_ROLE_CLAIM))),
        "role": role,
    }
    shown = {"obj": user, "object_repr": display_name(user), "request": request}
    if created:
        record_admin_action(
            actor=None, action="user.created", after=facts, note="first company sign-in", **shown
        )
    if before != ([role] if role else []):
        record_admin_action(
            actor=None,
            action="user.role_changed",
            before={"roles": before},
            after={"roles": [role] if role else []},
            note=f"from the IdP's {settings.OIDC_ROLE_CLAIM!r} claim at sign-in (OIDC_ROLE_MAP)",
            **shown,
        )
    allowed = bool(role) and user.is_active
    record_admin_action(
        actor=user if allowed else None,
        action="login.sso" if allowed else "login.sso_refused",
        after=facts,
        note="" if allowed else _refusal(user),
        **shown,
    )
    return SignIn(user=user, role=role, created=created)


def display_name(user) -> str:
    """How the console names a user: their name and e-mail when the IdP gave them."""
    name, email = user.get_full_name(), user.email
    if name and email:
        return f"{name} <{email}>"
    return name or email or user.get_username()


def _refusal(user) -> str:
    if not user.is_active:
        return "the account is disabled in the console"
    return "no role: the IdP's groups match no entry of OIDC_ROLE_MAP"


def _update_profile(user, claims: dict) -> None:
    email = str(claims.get("email") or "")[:254]
    name = str(claims.get("name") or claims.get("preferred_username") or "")[:150]
    if (user.email, user.first_name) != (email, name):
        user.email, user.first_name = email, name
        user.save(update_fields=["email", "first_name"])


def _set_role(user, role: str | None) -> list[str]:
    """Give `user` exactly `role` (or none) among the role groups; their roles before."""
    ensure_role_groups()
    before = sorted(user.groups.filter(name__in=ROLE_ORDER).values_list("name", flat=True))
    if before != ([role] if role else []):
        user.groups.remove(*Group.objects.filter(name__in=ROLE_ORDER))
        if role:
            user.groups.add(Group.objects.get(name=role))
    return before
