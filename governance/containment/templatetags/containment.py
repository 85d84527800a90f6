"""`{% load containment %}`: `{% revocations_for grant=grant as revocations %}` lists the latest
revocations acting on a grant, identity or client, so inventory's pages can show them without
inventory importing governance's domain (lint-imports forbids that; a template load is not an
import). The buttons that start a revocation are plain `{% url 'containment:...' %}` links."""

from __future__ import annotations

import json

from django import template

from governance.containment.queries import revocations_touching

# An object's page lists its latest revocations; "all →" opens the filtered list.
LATEST = 5

register = template.Library()


@register.simple_tag
def revocations_for(*, grant=None, identity=None, client=None):
    """The latest revocations acting on the object (one query). A variable the including
    template did not set arrives as "" (string_if_invalid): that is no object."""
    return list(
        revocations_touching(grant=grant or None, identity=identity or None, client=client or None)[
            :LATEST
        ]
    )


# Shown in the step's own columns already (what, IdP): not repeated in its request summary.
SHOWN_ELSEWHERE = frozenset({"operation", "connection", "kind"})


@register.filter
def summary_lines(summary) -> list[tuple[str, str]]:
    """A step's request or answer summary as (key, text) lines for the progress table: an HTTP
    exchange {method, path, status} reads "DELETE /admin/grants/g1 → 204", a list one item per
    "; ", empty values dropped. Summaries hold no secret (the runner writes them so)."""
    if not isinstance(summary, dict):
        return []
    return [
        (key, _text(value))
        for key, value in summary.items()
        if key not in SHOWN_ELSEWHERE and value not in (None, "", [], {})
    ]


def _text(value) -> str:
    if isinstance(value, list):
        return "; ".join(_text(item) for item in value)
    if isinstance(value, dict):
        if "method" in value and "path" in value:
            status = value.get("status")
            return f"{value['method']} {value['path']}" + (f" → {status}" if status else "")
        if "outcome" in value and "target" in value:
            return f"{value['target']}: {value['outcome']}"
        return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    return str(value)
