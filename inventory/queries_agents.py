"""Which agent can act as whom, on which server, with what scopes: an identity's grants grouped
by the agent (client) holding them, and the grants of the agent identities it answers for.

Grouping is done on rows already read (one query per question), so an identity page costs
the same whatever the number of agents."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from inventory.models import Client, Grant, Identity
from inventory.queries import agents_acting_for, agents_answered_for

# An identity page reads at most this many grants per question; past it, the grants list (the
# page links it, filtered) has them all.
GRANTS_READ = 200


@dataclass
class AgentGrants:
    """One agent (client) and the grants it holds from one identity: where and with what."""

    client: Client
    grants: list[Grant] = field(default_factory=list)

    @property
    def active(self) -> list[Grant]:
        return [g for g in self.grants if g.status == Grant.Status.ACTIVE]

    @property
    def servers(self) -> list:
        """Its servers, named once each, in the order its grants list them."""
        seen = {g.server_id: g.server for g in self.grants if g.server_id}
        return list(seen.values())

    @property
    def resources(self) -> list[str]:
        """Resources of its grants that name no known server."""
        return sorted({g.resource for g in self.grants if not g.server_id and g.resource})

    @property
    def scopes(self) -> list[str]:
        """The scopes of its active grants (all of them when none is active)."""
        grants = self.active or self.grants
        return sorted({scope for g in grants for scope in g.scopes})


def by_client(grants: Iterable[Grant]) -> list[AgentGrants]:
    """Grants grouped by client, the first group the one whose grant came first; live agents
    (holding an active grant) before the others."""
    groups: dict[int, AgentGrants] = {}
    for grant in grants:
        groups.setdefault(grant.client_id, AgentGrants(grant.client)).grants.append(grant)
    return sorted(groups.values(), key=lambda group: not group.active)


@dataclass
class AnsweredFor:
    """An agent (or service) identity this one owns, sponsors or manages, and its agents."""

    identity: Identity
    relation: list[str]
    agents: list[AgentGrants]


def agents_for(identity: Identity) -> tuple[list[AgentGrants], int]:
    """(the agents acting for the identity, each with its grants; how many grants were read)."""
    grants = list(agents_acting_for(identity)[:GRANTS_READ])
    return by_client(grants), len(grants)


def answered_for_with_agents(identity: Identity, *, limit: int) -> list[AnsweredFor]:
    """The identities this one answers for (owner, sponsor, manager of an agent), each with the
    agents acting for it: two queries, whatever their number."""
    answered = list(agents_answered_for(identity)[:limit])
    grants = (
        Grant.objects.filter(subject__in=answered)
        .select_related("client", "server")
        .order_by("status", "client__name", "-id")[:GRANTS_READ]
    )
    per_subject: dict[int, list[Grant]] = {}
    for grant in grants:
        per_subject.setdefault(grant.subject_id, []).append(grant)
    return [
        AnsweredFor(
            identity=other,
            relation=[
                name
                for name, ref in (
                    ("owner", other.owner_id),
                    ("sponsor", other.sponsor_id),
                    ("manager", other.manager_id),
                )
                if ref == identity.pk
            ],
            agents=by_client(per_subject.get(other.pk, [])),
        )
        for other in answered
    ]
