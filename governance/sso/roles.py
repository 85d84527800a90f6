"""Which console role an IdP's groups give: OIDC_ROLE_MAP, e.g.
"mcp-admins=Admin,mcp-auditors=Auditor,*=Viewer" (the highest role any entry gives wins;
`*` gives its role to everyone who signs in)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from governance.access.roles import ROLE_ORDER


def parse_role_map(text: str) -> list[tuple[str, str]]:
    """(group, role) pairs from "group=Role,..."; ImproperlyConfigured naming the bad entry."""
    pairs = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        group, sep, role = (piece.strip() for piece in entry.rpartition("="))
        if not sep or not group or role not in ROLE_ORDER:
            raise ImproperlyConfigured(
                f"OIDC_ROLE_MAP: {entry!r} is not group=Role with Role one of "
                f"{', '.join(ROLE_ORDER)}"
            )
        pairs.append((group, role))
    return pairs


def claim_values(value) -> set[str]:
    """A role claim as a set of strings: a list of groups, or one group as a string."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, (list, tuple)):
        return {str(item) for item in value if isinstance(item, (str, int))}
    return set()


def role_for(claim_value) -> str | None:
    """The highest role the groups in `claim_value` give under OIDC_ROLE_MAP, or None."""
    groups = claim_values(claim_value)
    pairs = parse_role_map(settings.OIDC_ROLE_MAP)
    roles = {role for group, role in pairs if group == "*" or group in groups}
    return next((r for r in reversed(ROLE_ORDER) if r in roles), None)
