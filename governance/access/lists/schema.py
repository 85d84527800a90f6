"""What the API documents is what it accepts and answers (the API side of a declared list).

- A list declares its query parameters once (`list_params`, usually `spec_parameters(SPEC)` of
  its ListSpec); the same declaration is published in the OpenAPI schema and checked on every
  request, so an unknown parameter (a misspelt filter
  such as `session_id=` for `session=`) is a 400 naming it instead of silently returning every
  row.
- Every operation documents the error statuses it can answer (400, 401, 403, 404), each with
  its body, so a client generated from the schema (and schemathesis) knows them.
"""

from __future__ import annotations

from contextlib import contextmanager

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

from governance.access.lists.filters import InvalidFilter, ListSpec

# Parameters every list takes besides its own: DRF picks the renderer from `format`.
ALWAYS_ALLOWED = frozenset({"format"})

_DETAIL = {"type": "object", "properties": {"detail": {"type": "string"}}, "required": ["detail"]}
# A bad parameter: {"param": ["message"]} (or {"detail": "..."} for a NUL in the query string).
_BAD_PARAMS = {
    "type": "object",
    "additionalProperties": {
        "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]
    },
}
_ERRORS = {
    "400": ("A query parameter is unknown or has a bad value (named in the body).", _BAD_PARAMS),
    "401": ("Not logged in.", _DETAIL),
    "403": ("The user's role may not use this endpoint.", _DETAIL),
    "404": ("No such object.", _DETAIL),
}


@contextmanager
def bad_filter_is_400():
    """A bad query parameter is the caller's error: 400 naming it ({param: [message]})."""
    try:
        yield
    except InvalidFilter as exc:
        raise ValidationError({exc.param: [exc.message]}) from exc


_PARAM_TYPES = {"id": OpenApiTypes.INT, "bool": OpenApiTypes.BOOL, "count": OpenApiTypes.INT}


def spec_parameters(spec: ListSpec) -> list[OpenApiParameter]:
    """OpenAPI query parameters for one list, generated from its spec so they cannot drift."""
    params = [
        OpenApiParameter(
            "q",
            OpenApiTypes.STR,
            description="Case-insensitive search in " + ", ".join(spec.search),
        ),
        OpenApiParameter(
            "sort",
            OpenApiTypes.STR,
            enum=sorted([*spec.sorts, *(f"-{key}" for key in spec.sorts)]),
            description=f"Sort key, '-' for descending (default {spec.default_sort}).",
        ),
    ]
    for flt in spec.filters:
        params.append(
            OpenApiParameter(
                flt.param,
                _PARAM_TYPES.get(flt.kind, OpenApiTypes.STR),
                enum=[value for value, _ in flt.choices] or None,
                description=flt.label or f"Only rows whose {flt.param.replace('_', ' ')} matches.",
            )
        )
    return params


class DeclaredQueryParamsMixin:
    """A viewset whose list answers 400 to a query parameter it does not declare.

    `list_params` (OpenApiParameters) is the declaration; ConsoleAutoSchema publishes it. The
    check runs after authentication and permissions, so a user without a role still gets 403.
    """

    list_params: tuple = ()

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if getattr(self, "action", None) == "list":
            check_known_params(request.query_params, self.allowed_list_params())

    def allowed_list_params(self) -> set[str]:
        allowed = {param.name for param in self.list_params} | ALWAYS_ALLOWED
        paginator = getattr(self, "paginator", None)
        if paginator is not None:
            allowed |= {paginator.limit_query_param, paginator.offset_query_param}
        return allowed


def check_known_params(params, allowed: set[str]) -> None:
    """ValidationError naming each parameter not in `allowed`."""
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        known = ", ".join(sorted(allowed - ALWAYS_ALLOWED))
        raise ValidationError(
            {name: [f"unknown query parameter (this list takes: {known})"] for name in unknown}
        )


class ConsoleAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema plus each list's declared parameters and the error statuses."""

    def get_override_parameters(self):
        if getattr(self.view, "action", None) == "list":
            return [*super().get_override_parameters(), *getattr(self.view, "list_params", ())]
        return super().get_override_parameters()

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        codes = ["401", "403"]
        if getattr(self.view, "action", None) == "list" or self.method != "GET":
            codes.insert(0, "400")
        if "{" in self.path:
            codes.append("404")
        for code in codes:
            description, schema = _ERRORS[code]
            responses.setdefault(
                code,
                {"content": {"application/json": {"schema": schema}}, "description": description},
            )
        return responses
