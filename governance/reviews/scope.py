"""A campaign's scope: which active grants it reviews.

The scope is a small JSON object stored on the campaign, every key optional (none = every active
grant): `idp_connection_ids` (grants whose issuer one of those connections answers for, through
governance.idp's IdpIssuer), `client_ids` and `server_ids` (inventory ids), `scopes` (the grant
holds any of them), `grant_types`, `unused_days` (never used, or last used before that many days).
Cleaning names the bad key in a ValidationError, so the form and the API show it on the field.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from governance.idp.models import IdpConnection, IdpIssuer
from inventory.models import Client, Grant, Server

ID_KEYS = {"idp_connection_ids": IdpConnection, "client_ids": Client, "server_ids": Server}
TEXT_KEYS = ("scopes", "grant_types")
MAX_UNUSED_DAYS = 100_000  # a timedelta of more days overflows


def clean_scope(raw) -> dict:
    """The scope with known keys only, ids that exist, sorted lists; ValidationError naming
    the key ("scope.client_ids: no client has id 99")."""
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise ValidationError({"scope": "must be an object"})
    unknown = sorted(set(raw) - set(ID_KEYS) - set(TEXT_KEYS) - {"unused_days"})
    if unknown:
        known = ", ".join(sorted([*ID_KEYS, *TEXT_KEYS, "unused_days"]))
        raise ValidationError({"scope": f"unknown key {unknown[0]!r} (takes: {known})"})
    scope: dict = {}
    for key, model in ID_KEYS.items():
        ids = _id_list(key, raw.get(key))
        if ids:
            found = set(model.objects.filter(pk__in=ids).values_list("pk", flat=True))
            missing = [i for i in ids if i not in found]
            if missing:
                noun = model._meta.verbose_name
                raise ValidationError({key: f"no {noun} has id {missing[0]}"})
            scope[key] = ids
    for key in TEXT_KEYS:
        values = _text_list(key, raw.get(key))
        if values:
            scope[key] = values
    if grant_types := scope.get("grant_types"):
        bad = [t for t in grant_types if t not in Grant.GrantType.values]
        if bad:
            allowed = ", ".join(Grant.GrantType.values)
            raise ValidationError({"grant_types": f"{bad[0]!r} is not one of {allowed}"})
    days = raw.get("unused_days")
    if days not in (None, "", 0):
        scope["unused_days"] = _days(days)
    return scope


def grants_in_scope(scope: dict, now) -> QuerySet:
    """The active grants a (clean) scope selects, in a stable order."""
    grants = Grant.objects.active()
    if ids := scope.get("idp_connection_ids"):
        issuers = IdpIssuer.objects.filter(connection_id__in=ids).values("issuer")
        grants = grants.filter(issuer__in=issuers)
    if ids := scope.get("client_ids"):
        grants = grants.filter(client_id__in=ids)
    if ids := scope.get("server_ids"):
        grants = grants.filter(server_id__in=ids)
    if scopes := scope.get("scopes"):
        grants = grants.filter(scopes__overlap=scopes)  # any of them (the GIN index answers)
    if types := scope.get("grant_types"):
        grants = grants.filter(grant_type__in=types)
    if days := scope.get("unused_days"):
        since = now - timedelta(days=days)
        # Idle since its last use, or since it was issued when never used: the items' own count
        # (items.unused_days), so a grant issued yesterday is not "unused for 90 days".
        grants = grants.filter(
            Q(last_used_at__lt=since)
            | Q(last_used_at__isnull=True, issued_at__lt=since)
            | Q(last_used_at__isnull=True, issued_at__isnull=True, first_seen__lt=since)
        )
    return grants.order_by("client_id", "subject_id", "id")


def describe(scope: dict) -> str:
    """The scope in words, for pages and emails ("every active grant" when empty)."""
    if not scope:
        return "every active grant"
    parts = []
    labels = {
        "idp_connection_ids": "IdP connections",
        "client_ids": "clients",
        "server_ids": "servers",
        "scopes": "holding any of the scopes",
        "grant_types": "grant types",
    }
    for key, label in labels.items():
        if scope.get(key):
            values = _names(key, scope[key])
            parts.append(f"{label} {', '.join(values)}")
    if scope.get("unused_days"):
        parts.append(f"unused for {scope['unused_days']} days")
    return "active grants: " + "; ".join(parts)


# Ids in a scope are shown by name (with the id, which stays true if the object is renamed).


def _names(key: str, values: list) -> list[str]:
    model = ID_KEYS.get(key)
    if model is None:
        return [str(v) for v in values]
    names = dict(model.objects.filter(pk__in=values).values_list("pk", "name"))
    return [f"{names[v]} (#{v})" if names.get(v) else f"#{v}" for v in values]


def _id_list(key: str, raw) -> list[int]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list | tuple):
        raw = [raw]
    ids = []
    for value in raw:
        text = str(value).strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 18:
            raise ValidationError({key: f"{text[:40]!r} is not a numeric id"})
        ids.append(int(text))
    return sorted(set(ids))


def _text_list(key: str, raw) -> list[str]:
    if raw in (None, ""):
        return []
    if isinstance(raw, str):
        raw = raw.replace(",", " ").split()
    if not isinstance(raw, list | tuple):
        raise ValidationError({key: "must be a list of strings"})
    values = sorted({str(v).strip() for v in raw if str(v).strip()})
    if any("\x00" in v or len(v) > 200 for v in values):
        raise ValidationError({key: "a value is longer than 200 characters or holds a NUL"})
    return values


def _days(raw) -> int:
    text = str(raw).strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text[:7]) <= MAX_UNUSED_DAYS:
        raise ValidationError({"unused_days": f"{text[:40]!r} is not a number of days (1-100000)"})
    return int(text)
