"""Template helpers for the console pages."""

from django import template
from django.urls import NoReverseMatch, reverse

register = template.Library()

# Flags and admin actions point at objects by "app.model" and id; these have detail pages.
DETAIL_URLS = {
    "inventory.identity": "inventory:identity_detail",
    "inventory.client": "inventory:client_detail",
    "inventory.server": "inventory:server_detail",
    "inventory.grant": "inventory:grant_detail",
    "inventory.task": "inventory:task_detail",
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
