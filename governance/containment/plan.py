"""What a containment action would touch (the dry run on the confirm page) and its steps.

`plan_*` functions read the inventory and the IdP connections and return a `Plan`: the counts
the Admin confirms (grants, tokens, sessions, tasks, IdPs) and the ordered steps the revocation
will run. They change nothing and call no IdP.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The most grants one bulk revocation may act on (the confirm page says so when a filter
# matches more).
BULK_CAP = 1000


@dataclass(frozen=True)
class PlannedStep:
    """A step before it is a row: RevocationStep's kind, operation, connection id and target."""

    kind: str
    operation: str
    description: str
    connection_id: int | None = None
    target: dict = field(default_factory=dict)


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
        }
