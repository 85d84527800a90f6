"""What a containment action would touch (the dry run on the confirm page) and its steps.

`plan_*` functions read the inventory and the IdP connections and return a `Plan`: the counts
the Admin confirms (grants, tokens, sessions, tasks, IdPs) and the ordered steps the revocation
will run. They change nothing and call no IdP.

Steps come in this order: IdP calls, then console state (grants marked revoked, cut-off times,
the client blocked), then task actions (orphans.py), then verifications, each naming the call it
checks (`target["call_position"]`). A call the console cannot make (no connection for the
issuer, a kind without the capability, a connection without a credential) is a "skipped" step
with the reason and a warning line: never silently dropped.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import QuerySet

from governance.connectors.base import (
    CUT_OFF_IDENTITY,
    DEACTIVATE,
    INTROSPECT,
    REVOKE,
    REVOKE_CLIENT_GRANTS,
    REVOKE_USER_CLIENT,
)
from governance.containment import orphans
from governance.containment.reach import Reach, Resolver
from governance.containment.steps import CALL, LOCAL, VERIFY, PlannedStep, running_tasks
from inventory.models import Client, Grant, Identity

# The most grants one bulk revocation may act on (the confirm page says so when a filter
# matches more).
BULK_CAP = 1000


@dataclass
class Plan:
    """The dry run: what will be touched, the steps, and what cannot be touched (and why)."""

    action: str
    target_key: str
    grants: int = 0
    tokens: int = 0
    sessions: int = 0
    tasks: int = 0
    clients: int = 0
    idps: list[str] = field(default_factory=list)
    steps: list[PlannedStep] = field(default_factory=list)
    # Lines the confirm page shows as warnings: no IdP connection for an issuer, a kind that
    # cannot revoke, more grants than BULK_CAP matched...
    warnings: list[str] = field(default_factory=list)
    grant_ids: list[int] = field(default_factory=list)
    matched: int = 0  # bulk: how many grants the filter matched (may exceed BULK_CAP)

    def as_dict(self) -> dict:
        """What Revocation.plan stores (the counts and warnings, not the steps)."""
        return {
            "grants": self.grants,
            "tokens": self.tokens,
            "sessions": self.sessions,
            "tasks": self.tasks,
            "clients": self.clients,
            "idps": list(self.idps),
            "warnings": list(self.warnings),
            "matched": self.matched,
            "steps": len(self.steps),
            "skipped": sum(1 for s in self.steps if s.skip_reason),
        }

    @property
    def runnable_calls(self) -> int:
        """IdP calls that will be made (not skipped): a plan with none revokes nothing."""
        return sum(1 for s in self.steps if s.kind == CALL and not s.skip_reason)


class _Builder:
    """Collects the calls, local steps and verifications, then lays them out in order."""

    def __init__(self, plan: Plan):
        self.plan = plan
        self.resolver = Resolver()
        self.calls: list[PlannedStep] = []
        self.locals: list[PlannedStep] = []
        self.verifies: list[tuple[int, PlannedStep]] = []  # (index of the call, step)
        self.idps: set[str] = set()

    def call(self, reach: Reach, capability: str, operation: str, description: str, target):
        """Plan a call (or a skipped one, with the reason and a warning); its index."""
        why = reach.why_not(capability)
        connection_id = reach.connection.pk if reach.connection else None
        if why:
            self.plan.warnings.append(f"{description}: skipped, {why}")
        else:
            self.idps.add(reach.name)
        self.calls.append(
            PlannedStep(CALL, operation, description, connection_id, target, skip_reason=why)
        )
        return len(self.calls) - 1

    def verify(self, call_index: int, operation: str, description: str, extra=None):
        """A verification of the call at `call_index` (skipped with it when it is skipped)."""
        call = self.calls[call_index]
        why = f"its call is skipped: {call.skip_reason}" if call.skip_reason else ""
        target = {**call.target, **(extra or {})}
        step = PlannedStep(VERIFY, operation, description, call.connection_id, target, why)
        self.verifies.append((call_index, step))

    def local(self, operation: str, description: str, target: dict) -> None:
        self.locals.append(PlannedStep(LOCAL, operation, description, None, target))

    def finish(self, *, grant_ids, client_ids=(), identity_ids=()) -> Plan:
        plan = self.plan
        tasks = orphans.task_steps(
            grant_ids=list(grant_ids), client_ids=list(client_ids), identity_ids=list(identity_ids)
        )
        plan.tasks = running_tasks(grant_ids, client_ids, identity_ids).count()
        steps = list(self.calls) + list(self.locals) + list(tasks)
        for call_index, step in self.verifies:
            # Calls come first, so the call at index i is at position i + 1.
            target = {**step.target, "call_position": call_index + 1}
            steps.append(
                PlannedStep(
                    step.kind,
                    step.operation,
                    step.description,
                    step.connection_id,
                    target,
                    step.skip_reason,
                )
            )
        plan.steps = steps
        plan.idps = sorted(self.idps)
        return plan


# --- the grant-level calls, shared by every action --------------------------------------------


def grant_target(grant: Grant) -> dict:
    """The ids a revoke call needs (never a token): the runner reloads the grant's record."""
    return {
        "grant_ids": [grant.pk],
        "external_id": grant.external_id,
        "subject": grant.subject.subject if grant.subject else "",
        "client_id": grant.client.client_id,
        "grant_type": grant.grant_type,
    }


def _revoke_grants(b: _Builder, grants: list[Grant]) -> None:
    """One revoke call (and its "no longer listed" check) per grant."""
    for grant in grants:
        reach = b.resolver.for_issuer(grant.issuer)
        where = f" at {reach.name}" if reach.name else ""
        index = b.call(
            reach, REVOKE, "revoke", f"Revoke grant {grant.external_id}{where}", grant_target(grant)
        )
        b.verify(index, "verify_absent", f"Grant {grant.external_id} no longer listed{where}")


def _revoke_by_pairs(b: _Builder, grants: list[Grant]) -> None:
    """Everything a subject gave a client, one `revoke_user_client` per (IdP, subject, client)
    where the kind can; grant by grant where it cannot."""
    pairs: dict[tuple, list[Grant]] = defaultdict(list)
    for grant in grants:
        subject = grant.subject.subject if grant.subject else ""
        pairs[(grant.issuer, subject, grant.client.client_id)].append(grant)
    for (issuer, subject, client_id), group in sorted(pairs.items()):
        reach = b.resolver.for_issuer(issuer)
        if not subject or reach.why_not(REVOKE_USER_CLIENT):
            _revoke_grants(b, group)
            continue
        target = {
            "grant_ids": [g.pk for g in group],
            "subject": subject,
            "client_id": client_id,
        }
        what = f"{subject} → {client_id} at {reach.name}"
        index = b.call(
            reach, REVOKE_USER_CLIENT, "revoke_user_client", f"Revoke all of {what}", target
        )
        b.verify(index, "verify_absent", f"Nothing of {what} listed any more")


def _tokens(b: _Builder, reach: Reach, tokens: list[dict]) -> None:
    """Token values the Admin holds (a leaked refresh token): revoked by value (RFC 7009) and
    introspected (RFC 7662) as proof. Stored encrypted on the step, shown by their first 6
    characters."""
    for token in tokens:
        target = {"token_encrypted": token["encrypted"], "token_hint": token["hint"]}
        where = f" at {reach.name}" if reach.name else ""
        index = b.call(
            reach, REVOKE, "revoke_token", f"Revoke token {token['hint']}{where}", target
        )
        if not b.calls[index].skip_reason and reach.why_not(INTROSPECT):
            b.plan.warnings.append(
                f"Token {token['hint']}: cannot be checked, {reach.why_not(INTROSPECT)}"
            )
            continue
        b.verify(index, "verify_introspection", f"Token {token['hint']} inactive (introspection)")


def _mark_revoked(b: _Builder, grants: list[Grant]) -> None:
    if grants:
        b.local(
            "mark_revoked",
            f"Mark {len(grants)} grant(s) revoked in the inventory (those whose call succeeded)",
            {"grant_ids": [g.pk for g in grants]},
        )


def _count(plan: Plan, grants: list[Grant], tokens: list[dict]) -> None:
    plan.grants = len(grants)
    plan.grant_ids = [g.pk for g in grants]
    plan.tokens = sum(1 for g in grants if g.has_refresh_token) + len(tokens)
    plan.clients = len({g.client_id for g in grants})


def _active(grants: QuerySet) -> list[Grant]:
    return list(grants.active().select_related("client", "subject").order_by("pk"))


# --- the actions ------------------------------------------------------------------------------


def plan_grant(grant: Grant, *, tokens: list[dict] = ()) -> Plan:
    """Revoke one grant (and any token value of it the Admin supplied)."""
    plan = Plan(action="grant", target_key=f"grant:{grant.pk}")
    b = _Builder(plan)
    grants = _active(Grant.objects.filter(pk=grant.pk))
    if not grants:
        plan.warnings.append(f"Grant {grant.external_id} is not active ({grant.status}).")
    _revoke_grants(b, grants)
    if tokens:
        _tokens(b, b.resolver.for_issuer(grant.issuer), list(tokens))
    _mark_revoked(b, grants)
    _count(plan, grants, list(tokens))
    return b.finish(grant_ids=[g.pk for g in grants])


def plan_identity_client(identity: Identity, client: Client) -> Plan:
    """Everything `identity` granted `client`, at every IdP that holds some of it."""
    plan = Plan(action="identity_client", target_key=f"identity:{identity.pk}:client:{client.pk}")
    b = _Builder(plan)
    grants = _active(Grant.objects.filter(subject=identity, client=client))
    if not grants:
        plan.warnings.append(f"{identity} holds no active grant for {client}.")
    _revoke_by_pairs(b, grants)
    _mark_revoked(b, grants)
    _count(plan, grants, [])
    return b.finish(grant_ids=[g.pk for g in grants])


def plan_identity(identity: Identity) -> Plan:
    """Cut an identity off everywhere: its sessions and tokens at each IdP it is known to (its
    own issuer and its grants'), and each of its grants."""
    plan = Plan(action="identity", target_key=f"identity:{identity.pk}")
    b = _Builder(plan)
    grants = _active(Grant.objects.filter(subject=identity))
    issuers = sorted({identity.issuer, *(g.issuer for g in grants)})
    seen: set = set()
    for issuer in issuers:
        reach = b.resolver.for_issuer(issuer)
        key = reach.connection.pk if reach.connection else issuer
        if key in seen:
            continue
        seen.add(key)
        where = reach.name or issuer
        b.call(
            reach,
            CUT_OFF_IDENTITY,
            "cut_off_identity",
            f"End the sessions and tokens of {identity.subject} at {where}",
            {"subject": identity.subject, "identity_id": identity.pk},
        )
        plan.sessions += 0 if reach.why_not(CUT_OFF_IDENTITY) else 1
    _revoke_by_pairs(b, grants)
    _mark_revoked(b, grants)
    b.local("cut_off_identity", f"Mark {identity} cut off", {"identity_id": identity.pk})
    _count(plan, grants, [])
    return b.finish(grant_ids=[g.pk for g in grants], identity_ids=[identity.pk])


def plan_client(client: Client) -> Plan:
    """The kill switch: deactivate the client at every IdP where it is registered (its own
    issuer and its grants'), revoke its own grants and every grant it holds, block it."""
    plan = Plan(action="client", target_key=f"client:{client.pk}")
    b = _Builder(plan)
    grants = _active(Grant.objects.filter(client=client))
    issuers = sorted({i for i in (client.issuer, *(g.issuer for g in grants)) if i})
    if not issuers:
        plan.warnings.append(f"No issuer is known for {client}: no IdP can deactivate it.")
    seen: set = set()
    target = {"client_id": client.client_id, "client_pk": client.pk}
    for issuer in issuers:
        reach = b.resolver.for_issuer(issuer)
        key = reach.connection.pk if reach.connection else issuer
        if key in seen:
            continue
        seen.add(key)
        where = reach.name or issuer
        index = b.call(
            reach, DEACTIVATE, "deactivate", f"Deactivate {client.client_id} at {where}", target
        )
        b.verify(index, "verify_client_inactive", f"{client.client_id} inactive at {where}")
        b.call(
            reach,
            REVOKE_CLIENT_GRANTS,
            "revoke_client_grants",
            f"Revoke the client grants and Cross App Access connections of {client.client_id} "
            f"at {where}",
            target,
        )
    _revoke_by_pairs(b, grants)
    _mark_revoked(b, grants)
    b.local("block_client", f"Block {client} in the inventory", {"client_pk": client.pk})
    _count(plan, grants, [])
    plan.clients = 1
    return b.finish(grant_ids=[g.pk for g in grants], client_ids=[client.pk])


def plan_bulk(grants: QuerySet, filter_params: dict) -> Plan:
    """The active grants a list filter matched, at most BULK_CAP of them (the plan says when
    more matched): one revoke per grant, paced per connection by the runner."""
    plan = Plan(action="bulk", target_key=f"bulk:{filter_key(filter_params)}")
    b = _Builder(plan)
    active = grants.filter(status=Grant.Status.ACTIVE)
    plan.matched = active.count()
    chosen = _active(Grant.objects.filter(pk__in=active.order_by("pk").values("pk")[:BULK_CAP]))
    if plan.matched > BULK_CAP:
        plan.warnings.append(
            f"{plan.matched} active grants match; one bulk revocation acts on the first "
            f"{BULK_CAP} (run it again for the rest)."
        )
    _revoke_grants(b, chosen)
    _mark_revoked(b, chosen)
    _count(plan, chosen, [])
    return b.finish(grant_ids=[g.pk for g in chosen])


def filter_key(filter_params: dict) -> str:
    """A stable key for a filter (its parameters, sorted): one open bulk per filter."""
    canonical = json.dumps(dict(sorted((filter_params or {}).items())), sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


def plan_undo(revocation) -> Plan:
    """Reactivate what `revocation` deactivated (apps, Cross App Access connections) where the
    IdP allows it, unblock the client and clear its cut-off time."""
    plan = Plan(action="undo", target_key=f"undo:{revocation.pk}")
    b = _Builder(plan)
    undoable = revocation.steps.filter(
        kind=CALL, operation__in=["deactivate", "revoke_client_grants"], state="done"
    ).order_by("position")
    for step in undoable:
        reach = b.resolver.for_connection_id(step.connection_id)
        where = reach.name or "its IdP"
        client_id = step.target.get("client_id", "")
        if step.operation == "deactivate":
            index = b.call(
                reach, DEACTIVATE, "reactivate", f"Reactivate {client_id} at {where}", step.target
            )
            b.verify(index, "verify_client_active", f"{client_id} active again at {where}")
        else:
            b.call(
                reach,
                REVOKE_CLIENT_GRANTS,
                "reactivate_client_grants",
                f"Set the Cross App Access connections of {client_id} active at {where}",
                step.target,
            )
    blocked = revocation.steps.filter(kind=LOCAL, operation="block_client", state="done")
    if revocation.client_id and blocked.exists():
        b.local(
            "unblock_client",
            f"Unblock {revocation.client} and clear its cut-off time",
            {"client_pk": revocation.client_id, "undoes": revocation.pk},
        )
        plan.clients = 1
    return b.finish(grant_ids=[])
