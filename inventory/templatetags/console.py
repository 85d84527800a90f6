"""Template helpers for the console pages."""

import json
from datetime import UTC, datetime

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from inventory.services.task_orphans import owner_contact

register = template.Library()

# Flags and admin actions point at objects by "app.model" and id; these have detail pages.
DETAIL_URLS = {
    "inventory.identity": "inventory:identity_detail",
    "inventory.client": "inventory:client_detail",
    "inventory.server": "inventory:server_detail",
    "inventory.grant": "inventory:grant_detail",
    "inventory.task": "inventory:task_detail",
    "governance.revocation": "containment:revocation_detail",
}


@register.filter
def object_url(record) -> str:
    """The detail page of the object a flag or admin action is about, or ''."""
    name = DETAIL_URLS.get(record.object_type)
    if not name or not str(record.object_id).isdigit():
        return ""
    try:
        return reverse(name, args=[int(record.object_id)])
    except NoReverseMatch:
        return ""


@register.filter
def issuer_short(issuer: str) -> str:
    """An issuer URL without its scheme, shortened for a table cell (the full one goes in title)."""
    text = issuer.split("://", 1)[-1].rstrip("/")
    return text if len(text) <= 36 else text[:35] + "…"


@register.filter
def pretty_json(value) -> str:
    """A stored payload (dict/list) as indented JSON, not Python's repr (quotes, True/None)."""
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


@register.filter
def compact_time(value) -> str:
    """An aware datetime or ISO 8601 string as "YYYY-MM-DD HH:MM:SS" in UTC, no microseconds.

    Crawl and fetch logs carry raw ISO strings (from JSON progress records): shown as they are,
    "2026-12-05T11:58:59.123456+00:00" wraps over lines and hides what matters.
    """
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


@register.filter
def display_value(value):
    """A value from a JSON record (a crawl summary): an ISO time compact, a dict or list as JSON."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    if isinstance(value, str) and len(value) >= 19 and value[10:11] == "T":
        return compact_time(value)
    return value


@register.filter
def task_owner_contact(task) -> str:
    """Whom to contact to stop an orphaned task (inventory.services.task_orphans)."""
    return owner_contact(task).label
