"""The API's one page-size rule: `limit` and `offset` are parsed strictly, for every list.

DRF's LimitOffsetPagination passes any size to SQL (`?limit=9223372036854775808` overflowed
PostgreSQL's bigint: a 500) and silently replaces a negative or malformed value with the default.
Here a bad value is a 400 naming the parameter, and a size above MAX_LIMIT is capped (as
documented in the schema). Imports no app and not drf-spectacular's AutoSchema: DRF loads it
(DEFAULT_PAGINATION_CLASS) while importing rest_framework.generics, which AutoSchema imports.
"""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

from governance.access.lists.filters import InvalidFilter, parse_count  # one integer parsing

MAX_LIMIT = 500


def page_params(params, *, default: int) -> tuple[int, int]:
    """(limit, offset) from query parameters; ValidationError ({param: [message]}) if bad."""
    try:
        limit = parse_count(
            "limit", params.get("limit") or str(default), minimum=1, maximum=MAX_LIMIT
        )
        offset = parse_count("offset", params.get("offset") or "0", minimum=0)
    except InvalidFilter as exc:
        raise ValidationError({exc.param: [exc.message]}) from exc
    return limit, offset


class StrictLimitOffsetPagination(LimitOffsetPagination):
    """LimitOffsetPagination whose `limit` and `offset` are validated (see the module docstring)."""

    max_limit = MAX_LIMIT

    def paginate_queryset(self, queryset, request, view=None):
        self._checked = page_params(request.query_params, default=self.default_limit)
        return super().paginate_queryset(queryset, request, view)

    def get_limit(self, request):
        return self._checked[0]

    def get_offset(self, request):
        return self._checked[1]

    def get_schema_operation_parameters(self, view):
        limit, offset = super().get_schema_operation_parameters(view)
        limit["schema"].update(minimum=1)
        limit["description"] = (
            f"Results per page (default {self.default_limit}, at most "
            f"{MAX_LIMIT}; larger values are capped)."
        )
        offset["schema"].update(minimum=0)
        return [limit, offset]
