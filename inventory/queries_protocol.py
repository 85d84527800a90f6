"""Protocol-feature reads (issue 15): the protocol panel of a client or server page, the URL
elicitation list, the list filters "accepts URL elicitation" / "samples with tools", and the
overview's negotiated-revision and capability-adoption figures. One function serves the page,
the API and the chart, so a number cannot differ between them."""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from governance.access.lists.filters import Filter, ListSpec, filtered
from governance.access.models import SiteSetting
from inventory.models import (
    MINIMUM_REVISION_SETTING,
    Client,
    PeerRole,
    ProtocolProfile,
    ProtocolSession,
    SamplingRequest,
    UrlElicitation,
)

PANEL_ROWS = 20
# The declared capabilities the adoption chart counts, per role (MCP 2025-11-25 §capabilities).
ADOPTION = {
    PeerRole.CLIENT: (
        "roots",
        "sampling",
        "sampling.tools",
        "elicitation",
        "elicitation.url",
        "tasks",
    ),
    PeerRole.SERVER: ("tools", "resources", "prompts", "logging", "completions", "tasks"),
}


def accepts_url_elicitation(queryset, value: bool):
    """Clients whose latest declaration includes `elicitation.url` (or not)."""
    declared = Exists(ProtocolProfile.objects.filter(client=OuterRef("pk"), elicitation_url=True))
    return queryset.filter(declared if value else ~declared)


def samples_with_tools(queryset, value: bool):
    """Servers seen sending `sampling/createMessage` with tools (or not)."""
    sampled = Exists(SamplingRequest.objects.filter(server=OuterRef("pk"), tool_count__gt=0))
    return queryset.filter(sampled if value else ~sampled)


def _via_error(queryset, value: bool):
    return queryset.filter(via_error=value)


def _completed(queryset, value: bool):
    return queryset.filter(completed_at__isnull=not value)


ELICITATION_SPEC = ListSpec(
    search=("origin", "elicitation_id", "server_name"),
    filters=(
        Filter("server", "server_id", kind="id"),
        Filter("client", "client_id", kind="id"),
        Filter("origin", "origin", kind="text"),
        Filter("via_error", "", kind="bool", label="seen in a -32042 error"),
        Filter("completed", "", kind="bool", label="completion notified"),
    ),
    sorts={"last_seen": "last_seen", "first_seen": "first_seen", "origin": "origin"},
    default_sort="-last_seen",
    extra={"via_error": _via_error, "completed": _completed},
)


def url_elicitations(params: Mapping) -> QuerySet:
    """URL-mode elicitations, with their server, client and identity."""
    base = UrlElicitation.objects.select_related("server", "client", "identity")
    return filtered(ELICITATION_SPEC, base, params)


def protocol_panel(obj) -> dict:
    """What a client or server page shows about its protocol: its declaration and history, the
    revisions its sessions negotiated, and (servers) its URL elicitations and sampling."""
    is_client = isinstance(obj, Client)
    key = {"client": obj} if is_client else {"server": obj}
    profile = ProtocolProfile.objects.filter(
        role=PeerRole.CLIENT if is_client else PeerRole.SERVER, **key
    ).first()
    sessions = ProtocolSession.objects.filter(**key)
    return {
        "is_client": is_client,
        "filter": f"{'client' if is_client else 'server'}={obj.pk}",
        "profile": profile,
        "changes": profile.changes.all()[:PANEL_ROWS] if profile else [],
        "versions": list(
            sessions.exclude(negotiated_version="")
            .values("negotiated_version")
            .annotate(sessions=Count("id"))
            .order_by("-negotiated_version")
        ),
        "elicitations": UrlElicitation.objects.filter(**key).select_related("server", "client")[
            :PANEL_ROWS
        ],
        "sampling": SamplingRequest.objects.filter(**key, tool_count__gt=0)[:PANEL_ROWS],
        "allowed_origins": [] if is_client else list(obj.allowed_elicitation_origins.all()),
    }


def minimum_revision() -> str:
    """The Admin-set minimum MCP revision sessions may negotiate, or "" (none)."""
    setting = SiteSetting.objects.filter(key=MINIMUM_REVISION_SETTING).first()
    return setting.value if setting and isinstance(setting.value, str) else ""


def negotiated_versions() -> list[tuple[str, int]]:
    """Sessions per negotiated revision, oldest revision first."""
    rows = (
        ProtocolSession.objects.exclude(negotiated_version="")
        .values_list("negotiated_version")
        .annotate(n=Count("id"))
        .order_by("negotiated_version")
    )
    return list(rows)


def capability_adoption() -> list[tuple[str, str, int, int]]:
    """(role, capability, peers declaring it, peers with a declaration), for the chart: one
    aggregate over the profiles."""
    counts = ProtocolProfile.objects.aggregate(
        **{f"total_{role.value}": Count("id", filter=Q(role=role)) for role in ADOPTION},
        **{
            f"{role.value}_{name}": Count("id", filter=Q(role=role) & _declares(name))
            for role, names in ADOPTION.items()
            for name in names
        },
    )
    return [
        (role.value, name, counts[f"{role.value}_{name}"], counts[f"total_{role.value}"])
        for role, names in ADOPTION.items()
        for name in names
    ]


def _declares(capability: str) -> Q:
    """`sampling.tools` → capabilities has key sampling whose object has key tools."""
    top, _, sub = capability.partition(".")
    if not sub:
        return Q(capabilities__has_key=top)
    return Q(**{f"capabilities__{top}__has_key": sub})
