"""What a containment action acts on, read from a request (the confirm page's query string, the
API's body) and checked: the one parsing both edges use, so a page and the API cannot disagree
on what `identity=3&client=5` means or on which grants a bulk filter matches.

A missing or malformed id is `BadTarget` naming the field (a 400 on both edges); an id that
names no row is `TargetNotFound` (a 404 on the page, a 400 naming the field on the API).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from django.db.models import QuerySet

from governance.access.lists.filters import InvalidFilter, parse_id
from governance.containment import services
from governance.containment.models import Revocation
from governance.containment.plan import Plan
from governance.containment.steps import LOCAL
from inventory import queries as inventory_queries
from inventory.models import Client, Grant, Identity

# The actions an Admin starts from a page (undo starts from a revocation, not from here).
STARTABLE = (
    Revocation.Action.GRANT,
    Revocation.Action.IDENTITY_CLIENT,
    Revocation.Action.IDENTITY,
    Revocation.Action.CLIENT,
    Revocation.Action.BULK,
)
STARTABLE_CHOICES = [(value, Revocation.Action(value).label) for value in STARTABLE]
# Which ids each action needs.
NEEDS = {
    Revocation.Action.GRANT: ("grant",),
    Revocation.Action.IDENTITY_CLIENT: ("identity", "client"),
    Revocation.Action.IDENTITY: ("identity",),
    Revocation.Action.CLIENT: ("client",),
    Revocation.Action.BULK: (),
}
MODELS = {"grant": Grant, "identity": Identity, "client": Client}
# A bulk revocation keeps the grant list's search and filters, not its paging or order.
BULK_PARAMS = frozenset({"q", *(flt.param for flt in inventory_queries.GRANT_SPEC.filters)})


class BadTarget(ValueError):
    """An action or id the request got wrong; `field` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


class TargetNotFound(BadTarget):
    """A well-formed id that names no row."""


@dataclass
class Target:
    """The objects one action acts on (keyword arguments of start_revocation) and, for bulk,
    the filter and the grants it matches now."""

    action: str
    grant: Grant | None = None
    identity: Identity | None = None
    client: Client | None = None
    filter_params: dict = field(default_factory=dict)
    grants: QuerySet | None = None

    def start_kwargs(self) -> dict:
        """What services.start_revocation takes besides actor, action, reason and request."""
        kwargs = {"grant": self.grant, "identity": self.identity, "client": self.client}
        if self.action == Revocation.Action.BULK:
            kwargs["filter_params"] = self.filter_params
        return kwargs


def parse_action(raw) -> str:
    """One of STARTABLE, else BadTarget naming `action`."""
    if raw not in STARTABLE:
        raise BadTarget("action", f"{str(raw)[:40]!r} is not one of {', '.join(STARTABLE)}")
    return raw


def resolve(action: str, params: Mapping) -> Target:
    """The Target of `action` from `params` (query string or body): ids for the single actions,
    the grant list's filter for bulk. Raises BadTarget / TargetNotFound naming the field."""
    action = parse_action(action)
    target = Target(action=action)
    for name in NEEDS[action]:
        raw = params.get(name)
        if raw in (None, ""):
            raise BadTarget(name, "required for this action")
        try:
            pk = parse_id(name, str(raw))
        except InvalidFilter as exc:
            raise BadTarget(name, exc.message) from exc
        obj = MODELS[name].objects.filter(pk=pk).first()
        if obj is None:
            raise TargetNotFound(name, f"no {name} has id {pk}")
        setattr(target, name, obj)
    if action == Revocation.Action.BULK:
        target.filter_params = {
            key: str(params.get(key)).strip()
            for key in sorted(BULK_PARAMS)
            if str(params.get(key) or "").strip()
        }
        if not target.filter_params:
            raise BadTarget("filter", "a bulk revocation needs at least one filter of the grants")
        try:
            target.grants = inventory_queries.grants(target.filter_params)
        except InvalidFilter as exc:
            raise BadTarget(exc.param, exc.message) from exc
    return target


def plan_for(target: Target, *, tokens: list[str] | None = None) -> Plan:
    """The dry run of `target`: the plan start_revocation builds, so the counts and steps the
    confirm page shows are the ones the revocation runs (ValueError naming a bad field)."""
    return services.build_plan(action=target.action, tokens=tokens, **target.start_kwargs())


def touches_nothing(the_plan: Plan) -> bool:
    """No IdP call would run (every one skipped, or none planned): start_revocation refuses it
    (NothingToRevoke), so the confirm page offers no button. An undo may be local alone (lift
    the block)."""
    if the_plan.action == Revocation.Action.UNDO:
        return not the_plan.runnable_calls and not any(s.kind == LOCAL for s in the_plan.steps)
    return not the_plan.runnable_calls
