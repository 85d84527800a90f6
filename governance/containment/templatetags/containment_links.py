"""`{% load containment_links %}`: links from inventory's pages to the revocation behind a mark.

Inventory stores a revocation as a plain id (Task.orphaned_by_revocation) and raises the "used
after revocation" flag without one; these tags turn them into links without inventory
importing governance (lint-imports forbids that; a template load is not an import).
"""

from __future__ import annotations

from django import template
from django.urls import NoReverseMatch, reverse

from governance.containment.used_after import revocation_for_flag

register = template.Library()


@register.filter
def revocation_url(revocation_id) -> str:
    """The revocation's page ('containment:revocation_detail'), '' for no id."""
    if not revocation_id:
        return ""
    try:
        return reverse("containment:revocation_detail", args=[int(revocation_id)])
    except NoReverseMatch:  # the page's URL is not installed: its documented path
        return f"/governance/revocations/{int(revocation_id)}/"


@register.simple_tag
def flag_revocation(flag):
    """The id of the revocation a used-after-revocation flag is about, else None."""
    return revocation_for_flag(flag)
