"""Inventory risk (issue 16 §2), a snapshot as of now: servers (registry status, OAuth
metadata problems), clients (metadata problems, registration kind), long-running and orphaned
tasks.

Rows are the inventory lists' (inventory.queries.servers / clients / tasks), so the counts by
registry status, registration and task state equal the lists' and the API's. Metadata
problems are the unresolved findings the crawls raised on each object: `oauth.*` and
`server.oauth_metadata_changed` on servers (Protected Resource and authorization-server
metadata), `cimd.*` and `oauth.*` on clients (their metadata documents).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from django.utils import timezone

from governance.access.lists.filters import parse_count
from governance.reports.document import Column, Figures, Report, Table
from governance.reports.kinds import controls
from governance.reports.kinds.params import filter_params
from inventory import queries, queries_findings
from inventory.models import Client, Server

KIND = "inventory_risk"
SERVER_METADATA_KINDS = ("oauth.", "server.oauth_metadata_changed")
CLIENT_METADATA_KINDS = ("cimd.", "oauth.")
LONG_RUNNING_HOURS = 24

RISK = controls.union([controls.CC6_1, controls.CC7_2], [controls.A8_16, controls.AC_2])


def build(params: Mapping) -> Report:
    """The inventory's risk as of now; `long_running_hours` (default 24) says when a running
    task counts as long-running."""
    filters = filter_params(params)
    hours = LONG_RUNNING_HOURS
    if filters.get("long_running_hours"):
        hours = parse_count("long_running_hours", filters["long_running_hours"], minimum=1)
    sections = [*_server_sections(), *_client_sections(), *_task_sections(hours)]
    return Report(
        kind=KIND,
        title="Inventory risk",
        generated_at=timezone.now(),
        period_start=None,
        period_end=None,
        parameters=filters,
        controls=RISK,
        sections=sections,
        primary_table=1,
    )


def _counted(rows_for, param: str, choices) -> list[tuple[str, int]]:
    """(label, how many the list holds for `?param=value`) for each choice: the list's own
    filter, so each equals the API's count for it."""
    return [(label, rows_for({param: value}).count()) for value, label in choices]


def _problems(found: dict) -> tuple[int, str]:
    return (found["count"], ", ".join(found["kinds"])) if found else (0, "")


def _object_sections(
    title: str,
    rows_for,
    *,
    object_type: str,
    problem_kinds: tuple[str, ...],
    problems_label: str,
    columns: list[Column],
    counted_by: tuple[str, str, list],
) -> list:
    """Figures and a table for the servers or the clients: the list's rows (name first, owner
    and open metadata findings last) and their counts by one status, from the list's filter."""
    rows = rows_for({"sort": "name"})
    problems = queries_findings.open_findings_by_object(object_type, problem_kinds)
    fields = ["pk", *(c.key for c in columns), "owner__display_name"]
    table = Table(
        title,
        [
            *columns,
            Column("owner", "Owner"),
            Column("metadata_problems", problems_label, "int"),
            Column("problem_kinds", "Kinds"),
        ],
        (
            (*values, owner or "", *_problems(problems.get(str(pk))))
            for pk, *values, owner in rows.values_list(*fields).iterator(chunk_size=2000)
        ),
        controls=RISK,
    )
    param, label, choices = counted_by
    figures = Figures(
        title,
        [
            (title, rows.count()),
            *((f"{label}: {name}", n) for name, n in _counted(rows_for, param, choices)),
            (f"With {problems_label[0].lower()}{problems_label[1:]}", len(problems)),
        ],
        controls=RISK,
    )
    return [figures, table]


def _server_sections() -> list:
    return _object_sections(
        "Servers",
        queries.servers,
        object_type="inventory.server",
        problem_kinds=SERVER_METADATA_KINDS,
        problems_label="Open OAuth metadata findings",
        columns=[
            Column("name", "Server"),
            Column("title", "Title"),
            Column("registry_status", "Registry status"),
            Column("review_status", "Review status"),
        ],
        counted_by=("registry_status", "Registry status", Server.RegistryStatus.choices),
    )


def _client_sections() -> list:
    return _object_sections(
        "Clients",
        queries.clients,
        object_type="inventory.client",
        problem_kinds=CLIENT_METADATA_KINDS,
        problems_label="Open metadata findings",
        columns=[
            Column("name", "Client"),
            Column("client_id", "Client ID"),
            Column("registration", "Registration"),
            Column("review_status", "Review status"),
        ],
        counted_by=("registration", "Registration", Client.Registration.choices),
    )


TASK_COLUMNS = [
    Column("task_id", "Task"),
    Column("server", "Server"),
    Column("client", "Client"),
    Column("identity", "Identity"),
    Column("tool", "Tool"),
    Column("status", "Status"),
    Column("created_at", "Created", "datetime"),
    Column("last_updated_at", "Last updated", "datetime"),
    Column("orphaned_at", "Orphaned", "datetime"),
    Column("orphaned_by_revocation", "By revocation", "int"),
    Column("owner_action", "Owner action"),
]
_TASK_FIELDS = (
    "task_id",
    "server__name",
    "client__name",
    "identity__display_name",
    "tool_name",
    "status",
    "created_at",
    "last_updated_at",
    "orphaned_at",
    "orphaned_by_revocation",
    "owner_action",
)


def long_running_tasks(hours: int):
    """Running tasks (within their TTL) created more than `hours` ago: the tasks list's
    `running=true`, oldest first."""
    since = timezone.now() - timedelta(hours=hours)
    return queries.tasks({"running": "true"}).filter(created_at__lt=since).order_by("created_at")


def _task_sections(hours: int) -> list:
    running = queries.tasks({"running": "true"})
    past_ttl = queries.tasks({"expired": "true"})
    orphaned = queries.tasks({"orphaned": "true"})
    long_running = long_running_tasks(hours)
    figures = Figures(
        "Tasks",
        [
            ("Running", running.count()),
            (f"Running for more than {hours} hours", long_running.count()),
            ("Past their TTL", past_ttl.count()),
            ("Orphaned by a revocation", orphaned.count()),
        ],
        controls=RISK,
        note="Orphaned: still running when a revocation cut their grant, client or identity "
        "(governance/containment/orphans.py asks their gateway to cancel them).",
    )

    def table(title, rows):
        values = rows.values_list(*_TASK_FIELDS)
        return Table(title, TASK_COLUMNS, values.iterator(chunk_size=2000), controls=RISK)

    return [
        figures,
        table(f"Tasks running for more than {hours} hours", long_running),
        table("Orphaned tasks", orphaned.order_by("-orphaned_at", "-id")),
    ]
