"""How the inventory's API modules serve a `ListSpec` list: its OpenAPI parameters, and a bad
filter answered as a 400. Shared by api.py, api_registry.py and api_discovery_fetch.py (which
api.py registers), so none of them imports another for these."""

from __future__ import annotations

from contextlib import contextmanager

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

from inventory.queries import InvalidFilter, ListSpec


@contextmanager
def bad_filter_is_400():
    """A bad query parameter is the caller's error: 400 naming it ({param: [message]})."""
    try:
        yield
    except InvalidFilter as exc:
        raise ValidationError({exc.param: [exc.message]}) from exc


_PARAM_TYPES = {"id": OpenApiTypes.INT, "bool": OpenApiTypes.BOOL}


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
