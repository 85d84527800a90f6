"""The inventory risk report: servers by registry status with their OAuth metadata findings,
clients by registration with their metadata findings, long-running and orphaned tasks; its
counts are the inventory API's for the same filters."""

from datetime import UTC, datetime, timedelta

import pytest

from governance.access.lists.filters import InvalidFilter
from governance.reports import catalog
from governance.reports.document import Figures, Table
from governance.reports.kinds import inventory_risk
from inventory.models import Finding, Task
from tests import ui_factories as f

pytestmark = pytest.mark.django_db

NOW = datetime.now(UTC)


def _open_finding(kind, obj, n=1):
    return Finding.objects.create(
        kind=kind,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        dedup_key=str(n),
        summary=kind,
        raised_at=NOW,
        last_raised_at=NOW,
    )


@pytest.fixture
def inventory():
    found = f.small_inventory()
    f.server("io.github.acme/old", registry_status="deprecated")
    _open_finding("oauth.prm_unavailable", found["crm"])
    _open_finding("oauth.issuer_mismatch", found["crm"])
    _open_finding("tool.name_violation", found["crm"])  # not a metadata problem
    _open_finding("cimd.redirect_uri_added", found["cursor"])
    Task.objects.filter(pk=found["task"].pk).update(
        status="working", created_at=NOW - timedelta(hours=30), ttl_ms=None
    )
    orphan = f.task("t-2", server=found["crm"], client=found["cursor"], status="working")
    Task.objects.filter(pk=orphan.pk).update(created_at=NOW, orphaned_at=NOW)
    return found


def _figures(report) -> dict:
    return {k: v for s in report.sections if isinstance(s, Figures) for k, v in s.items}


def _table(report, title) -> list[dict]:
    table = next(s for s in report.sections if isinstance(s, Table) and s.title.startswith(title))
    return [dict(zip([c.key for c in table.columns], row, strict=True)) for row in table.rows]


def _api_count(api, resource, **filters) -> int:
    response = api.get(f"/api/v1/{resource}/", filters)
    assert response.status_code == 200, response.content
    return response.json()["count"]


def test_the_builder_is_registered_for_its_kind():
    assert catalog.BUILDERS["inventory_risk"] is inventory_risk.build


def test_counts_equal_the_inventory_apis(inventory, auditor_client):
    figures = _figures(inventory_risk.build({}))

    assert figures["Servers"] == _api_count(auditor_client, "servers") == 2
    assert figures["Registry status: Deprecated"] == _api_count(
        auditor_client, "servers", registry_status="deprecated"
    )
    assert figures["Clients"] == _api_count(auditor_client, "clients")
    for value, label in (("cimd", "Client ID Metadata Document"), ("client_credentials", None)):
        label = label or "Client credentials (M2M)"
        expected = _api_count(auditor_client, "clients", registration=value)
        assert figures[f"Registration: {label}"] == expected
    assert figures["Running"] == _api_count(auditor_client, "tasks", running="true") == 2
    assert figures["Orphaned by a revocation"] == _api_count(
        auditor_client, "tasks", orphaned="true"
    )
    assert figures["Past their TTL"] == _api_count(auditor_client, "tasks", expired="true")


def test_servers_and_clients_carry_their_open_metadata_findings(inventory):
    report = inventory_risk.build({})

    servers = {r["name"]: r for r in _table(report, "Servers")}
    assert servers["io.github.acme/crm"]["metadata_problems"] == 2
    assert servers["io.github.acme/crm"]["problem_kinds"] == (
        "oauth.issuer_mismatch, oauth.prm_unavailable"
    )
    assert servers["io.github.acme/old"]["registry_status"] == "deprecated"
    clients = {r["name"]: r for r in _table(report, "Clients")}
    assert clients["Cursor"]["problem_kinds"] == "cimd.redirect_uri_added"
    assert clients["ETL loader"]["registration"] == "client_credentials"
    assert _figures(report)["With open OAuth metadata findings"] == 1


def test_long_running_and_orphaned_tasks_are_listed(inventory):
    report = inventory_risk.build({})

    assert [r["task_id"] for r in _table(report, "Tasks running for more")] == ["t-1"]
    assert [r["task_id"] for r in _table(report, "Orphaned tasks")] == ["t-2"]
    assert _table(inventory_risk.build({"long_running_hours": 48}), "Tasks running for") == []
    with pytest.raises(InvalidFilter) as bad:
        inventory_risk.build({"long_running_hours": "soon"})
    assert bad.value.param == "long_running_hours"


def test_the_report_names_its_controls(inventory):
    report = inventory_risk.build({})

    assert {"CC6.1", "CC7.2", "A.8.16"} <= {c.ref for c in report.controls}
    assert all(section.controls for section in report.sections)
