"""`{% load idp %}`: `{% idp_connection issuer as connection %}` names the connection that
answers for an issuer, so inventory's identity and grant pages can link to it without
inventory importing governance's domain (lint-imports forbids that; a template load is not an
import)."""

from __future__ import annotations

from django import template

from governance.idp.queries import connection_for_issuer

register = template.Library()


@register.simple_tag
def idp_connection(issuer: str):
    """The IdpConnection of `issuer`, or None (one query; an empty issuer is none)."""
    return connection_for_issuer(issuer) if issuer else None
