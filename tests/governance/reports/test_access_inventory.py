"""The access inventory report: its figures are the grant API's counts for the same filters,
its rows stream from one query, and it names the access controls it evidences."""

import types
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from governance.access.lists.filters import InvalidFilter
from governance.idp.models import IdpConnection, IdpIssuer
from governance.reports import catalog
from governance.reports.document import Chart, Figures, Report, Table
from governance.reports.kinds import access_inventory
from governance.reviews.models import Campaign, ReviewItem
from tests import ui_factories as f

pytestmark = pytest.mark.django_db


def _api_count(client, **params) -> int:
    response = client.get("/api/v1/grants/", params)
    assert response.status_code == 200, response.content
    return response.json()["count"]


def _figures(report: Report) -> dict:
    return {
        label: value
        for section in report.sections
        if isinstance(section, Figures)
        for label, value in section.items
    }


def _table(report: Report) -> Table:
    return report.sections[report.primary_table]


@pytest.fixture
def inventory():
    return f.small_inventory()


def test_the_builder_is_registered_for_its_kind():
    assert catalog.BUILDERS["access_inventory"] is access_inventory.build


@pytest.mark.parametrize(
    "filters", [{}, {"status": "active"}, {"grant_type": "client_credentials"}, {"q": "cursor"}]
)
def test_figures_equal_the_grant_apis_counts_for_the_same_filters(
    inventory, auditor_client, filters
):
    figures = _figures(access_inventory.build(filters))

    assert figures["Grants"] == _api_count(auditor_client, **filters)
    for status in ("active", "revoked", "expired"):
        if filters.get("status", status) == status:
            expected = _api_count(auditor_client, **{**filters, "status": status})
        else:
            expected = 0  # the filter already keeps another status only
        assert figures[status.capitalize()] == expected
    unused = _api_count(auditor_client, **{**filters, "status": "active", "unused_days": 90})
    assert figures["Active, unused for 90 days"] == unused


def test_each_row_goes_from_identity_and_owner_to_client_server_scopes_and_idp(inventory):
    connection_ = IdpConnection.objects.create(name="Acme Okta", kind="okta")
    IdpIssuer.objects.create(connection=connection_, issuer=f.OKTA)

    report = access_inventory.build({"status": "active"})
    table = _table(report)
    rows = [dict(zip([c.key for c in table.columns], row, strict=True)) for row in table.rows]

    assert table.row_count == 1 and len(rows) == 1
    row = rows[0]
    assert row["identity"] == "Alice Abbott" and row["identity_kind"] == "human"
    assert row["client"] == "Cursor" and row["server"] == "io.github.acme/crm"
    assert row["scopes"] == ["crm:read"] and row["grant_type"] == "authorization_code"
    assert row["issued_at"] == f.T0 and row["issued_at"].utcoffset() == timedelta(0)
    assert row["source_idp"] == "Acme Okta" and row["issuer"] == f.OKTA
    assert row["review_state"] == ""


def test_an_agents_row_names_its_owner_and_an_m2m_grant_has_no_identity(inventory):
    rows = {row[0]: row for row in _table(access_inventory.build({})).rows}

    bot = rows[inventory["bot"].grants.get().pk]
    assert bot[1:4] == ("agent: triage", "agent", "Alice Abbott")
    m2m = next(row for row in rows.values() if row[5] == "svc-etl")
    assert m2m[1] is None and m2m[4] == "ETL loader"


def test_review_state_is_the_decision_of_the_latest_campaign_holding_the_grant(inventory, auditor):
    grant = inventory["grant"]
    now = timezone.now()
    older = Campaign.objects.create(name="Q3 review", due_at=now)
    newer = Campaign.objects.create(name="Q4 review", due_at=now)
    Campaign.objects.filter(pk=older.pk).update(created_at=now - timedelta(days=90))
    ReviewItem.objects.create(
        campaign=older, grant=grant, recommendation="keep", decision="keep", decided_at=now
    )
    ReviewItem.objects.create(campaign=newer, grant=grant, recommendation="keep")

    report = access_inventory.build({})
    row = next(r for r in _table(report).rows if r[0] == grant.pk)

    assert row[-2:] == ("pending", "Q4 review")
    figures = _figures(report)
    assert figures["pending"] == 1 and figures["keep"] == 0 and figures["Not reviewed"] == 2


def test_rows_stream_from_one_query_through_a_generator(inventory):
    report = access_inventory.build({})
    rows = _table(report).rows
    assert isinstance(rows, types.GeneratorType)

    with CaptureQueriesContext(connection) as queries:
        read = list(rows)

    assert len(read) == 3
    selects = [q["sql"] for q in queries.captured_queries if "inventory_grant" in q["sql"]]
    assert len(selects) == 1  # the joins and the review state are in the one SELECT
    assert selects[0].startswith("DECLARE")  # a server-side cursor, read in chunks
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        jit_after = cursor.fetchone()[0]
        cursor.execute("SELECT reset_val FROM pg_settings WHERE name = 'jit'")
        assert jit_after == cursor.fetchone()[0]  # JIT was off for planning the rows only


def test_the_idp_filter_keeps_its_connections_issuers_and_a_bad_one_names_itself(inventory):
    okta = IdpConnection.objects.create(name="Acme Okta", kind="okta")
    IdpIssuer.objects.create(connection=okta, issuer=f.OKTA)
    other = IdpConnection.objects.create(name="Other", kind="okta")

    assert _table(access_inventory.build({"idp": okta.pk})).row_count == 3
    assert _table(access_inventory.build({"idp": other.pk})).row_count == 0
    with pytest.raises(InvalidFilter) as bad:
        access_inventory.build({"idp": "okta"})
    assert bad.value.param == "idp"
    with pytest.raises(InvalidFilter) as bad:
        access_inventory.build({"status": "gone"})
    assert bad.value.param == "status"


def test_the_report_and_its_sections_name_the_access_controls(inventory):
    report = access_inventory.build({})
    refs = {control.ref for control in report.controls}

    assert {"CC6.2", "CC6.3", "A.5.18", "AC-2", "7.2.4"} <= refs
    assert all(section.controls for section in report.sections)


def test_its_charts_draw_the_figures_beside_them(inventory):
    report = access_inventory.build({})
    figures = _figures(report)
    charts = {s.title: s for s in report.sections if isinstance(s, Chart)}

    by_status = charts["Grants by status"]
    assert dict(zip(by_status.labels, by_status.series["Grants"], strict=True)) == {
        label: figures[label] for label in ("Active", "Revoked", "Expired")
    }
    by_review = charts["Grants by review state"]
    assert sum(by_review.series["Grants"]) == figures["Grants"]
