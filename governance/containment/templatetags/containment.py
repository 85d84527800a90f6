"""`{% load containment %}`: `{% revocations_for grant=grant as revocations %}` lists the latest
revocations acting on a grant, identity or client, so inventory's pages can show them without
inventory importing governance's domain (lint-imports forbids that; a template load is not an
import). The buttons that start a revocation are plain `{% url 'containment:...' %}` links."""

from __future__ import annotations

from django import template

from governance.containment.reads import for_object

register = template.Library()


@register.simple_tag
def revocations_for(*, grant=None, identity=None, client=None):
    """The latest revocations acting on the object (one query). A variable the including
    template did not set arrives as "" (string_if_invalid): that is no object."""
    return for_object(grant=grant or None, identity=identity or None, client=client or None)
