"""Reading a builder's params (governance/reports/catalog.py): the period and the kind's own
filters. Filters reach the list machinery (governance/access/lists) as the strings a query
string would carry, so `{"client": 5}` and `?client=5` mean the same and a bad value raises
the same InvalidFilter naming the parameter."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from django.utils import timezone

from governance.access.lists.filters import InvalidFilter

PERIOD_KEYS = ("period_start", "period_end")
DEFAULT_PERIOD = timedelta(days=90)


def filter_params(params: Mapping) -> dict[str, str]:
    """The params besides the period, as query-string values (lists joined by commas)."""
    filters = {}
    for key, value in params.items():
        if key in PERIOD_KEYS or value is None or value == "":
            continue
        if isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        filters[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return filters


def period(params: Mapping, *, now: datetime | None = None) -> tuple[datetime, datetime]:
    """(start, end) of a period report: the params', else the 90 days before now. An end
    before its start is an InvalidFilter naming period_end (a 400, never a 500)."""
    end = params.get("period_end") or now or timezone.now()
    start = params.get("period_start") or end - DEFAULT_PERIOD
    for key, value in (("period_start", start), ("period_end", end)):
        if not isinstance(value, datetime):
            raise InvalidFilter(key, f"{value!r} is not a date and time")
    if end <= start:
        raise InvalidFilter("period_end", "must be after period_start")
    return start, end
