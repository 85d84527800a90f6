"""One way to declare a list: a `ListSpec` names a list's search fields, filters and sorts once,
and `filtered(spec, queryset, params)` applies query parameters (a QueryDict or a plain dict) to
a queryset, so a page, the API and an export can never disagree on what `?status=revoked` means.
Bad values raise `InvalidFilter` naming the parameter (shown as a 400).

The parse_* helpers are the one parsing of ids, counts, booleans and text for every list (page
sizes and offsets too, see pagination.py). An app's concrete specs live in its queries.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

TRUE_VALUES, FALSE_VALUES = {"1", "true", "yes", "on"}, {"0", "false", "no", "off"}


class InvalidFilter(ValueError):
    """A query parameter with a value the list cannot filter on."""

    def __init__(self, param: str, message: str):
        super().__init__(f"{param}: {message}")
        self.param, self.message = param, message


@dataclass(frozen=True)
class Filter:
    """One query parameter: `kind` is "choice" (needs `choices`), "text", "id", "bool" or "count"
    (a whole number of at least 1, e.g. days)."""

    param: str
    lookup: str
    kind: str = "choice"
    choices: tuple[tuple[str, str], ...] = ()
    label: str = ""


@dataclass(frozen=True)
class ListSpec:
    """How one list is searched (`q`), filtered, and sorted (`sort`, `-` prefix for descending)."""

    search: tuple[str, ...]
    filters: tuple[Filter, ...]
    sorts: dict[str, str]
    default_sort: str
    extra: dict = field(default_factory=dict)  # param -> function(queryset, bool) for flags

    def filter(self, param: str) -> Filter | None:
        return next((f for f in self.filters if f.param == param), None)

    def params(self) -> frozenset[str]:
        """The query parameters that choose the list's rows: the search and its filters (not
        `sort` or `page`, which only order and cut it)."""
        return frozenset({"q", *(f.param for f in self.filters)})


# PostgreSQL's bigint holds 19 digits: a longer number is no id and no row count, and int() of
# more than 4300 digits raises ValueError (Python's guard against quadratic conversion).
MAX_DIGITS = 19
BIGINT_MAX = 2**63 - 1
# A "count" filter (days, say) is capped here: a timedelta of more days overflows.
MAX_COUNT = 100_000


def parse_id(param: str, raw: str) -> int:
    """A numeric id, else InvalidFilter (ASCII digits only: "²".isdigit() is true, int() fails)."""
    if not (raw.isascii() and raw.isdigit()) or len(raw.lstrip("0")) > MAX_DIGITS:
        raise InvalidFilter(param, f"{_shown(raw)} is not a numeric id")
    return int(raw)


def id_or_none(raw: str) -> int | None:
    """The id in `raw`, or None when it is none (for pages that ignore a malformed id filter)."""
    try:
        return parse_id("id", raw)
    except InvalidFilter:
        return None


def parse_count(param: str, raw: str, *, minimum: int, maximum: int = BIGINT_MAX) -> int:
    """A whole number of at least `minimum`, capped at `maximum`, else InvalidFilter.

    Every page size and offset goes through here: a value past bigint (2**63) once reached SQL
    as LIMIT and answered 500, and a negative one was silently replaced by the default."""
    if not (raw.isascii() and raw.isdigit()):
        raise InvalidFilter(param, f"{_shown(raw)} is not a whole number of at least {minimum}")
    value = int(raw) if len(raw.lstrip("0")) <= MAX_DIGITS else maximum
    if value < minimum:
        raise InvalidFilter(param, f"{_shown(raw)} is not a whole number of at least {minimum}")
    return min(value, maximum)


def _shown(raw: str) -> str:
    """The bad value as quoted in an error, shortened: errors name the value, not echo a page."""
    return repr(raw if len(raw) <= 40 else raw[:40] + "...")


def parse_text(param: str, raw: str) -> str:
    """Free text, else InvalidFilter: PostgreSQL text cannot hold a NUL character."""
    if "\x00" in raw:
        raise InvalidFilter(param, "contains a NUL character")
    return raw


def _parse(flt: Filter, raw: str):
    if flt.kind == "choice":
        allowed = [value for value, _ in flt.choices]
        if raw not in allowed:
            raise InvalidFilter(flt.param, f"{raw!r} is not one of {', '.join(allowed)}")
        return raw
    if flt.kind == "id":
        return parse_id(flt.param, raw)
    if flt.kind == "bool":
        return parse_bool(flt.param, raw)
    if flt.kind == "count":
        return parse_count(flt.param, raw, minimum=1, maximum=MAX_COUNT)
    return parse_text(flt.param, raw)


def parse_bool(param: str, raw: str) -> bool:
    """'1/true/yes/on' or '0/false/no/off', else InvalidFilter."""
    if raw.lower() in TRUE_VALUES:
        return True
    if raw.lower() in FALSE_VALUES:
        return False
    raise InvalidFilter(param, f"{raw!r} is not a boolean (use true or false)")


def filtered(spec: ListSpec, queryset: QuerySet, params: Mapping) -> QuerySet:
    """Apply `q`, the spec's filters and `sort` from `params` to `queryset`."""
    q = parse_text("q", (params.get("q") or "").strip())
    if q:
        condition = Q()
        for name in spec.search:
            condition |= Q(**{f"{name}__icontains": q})
        queryset = queryset.filter(condition)
    for flt in spec.filters:
        raw = (params.get(flt.param) or "").strip()
        if raw:
            value = _parse(flt, raw)
            if flt.param in spec.extra:
                queryset = spec.extra[flt.param](queryset, value)
            else:
                queryset = queryset.filter(**{flt.lookup: value})
    return queryset.order_by(*sort_fields(spec, params.get("sort")))


def sort_fields(spec: ListSpec, raw: str | None) -> list[str]:
    """Order-by fields for `sort` (an unknown key falls back to the default), stable tiebreak."""
    raw = raw or spec.default_sort
    key = raw.lstrip("-")
    if key not in spec.sorts:
        raw, key = spec.default_sort, spec.default_sort.lstrip("-")
    prefix = "-" if raw.startswith("-") else ""
    return [f"{prefix}{spec.sorts[key]}", f"{prefix}id"]
