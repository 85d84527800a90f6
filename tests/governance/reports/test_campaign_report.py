"""The campaign report: every item with reviewer, decision, justification, time and the
revocation's outcome; a closed campaign is its frozen record, an open one says it is live."""

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.access.lists.filters import InvalidFilter
from governance.reports import catalog
from governance.reports.document import Figures, Table
from governance.reports.kinds import campaign as campaign_report
from governance.reviews.models import Campaign, ReviewItem
from tests import ui_factories as f
from tests.governance.containment.rows import revocation_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewed(auditor, admin_user):
    inv = f.small_inventory()
    now = timezone.now()
    camp = Campaign.objects.create(name="Q4 agents", due_at=now + timedelta(days=7))
    grants = list(inv["cursor"].grants.order_by("pk")) + list(inv["m2m"].grants.all())
    revocation = revocation_row(proof="verified")
    decided = {"decided_by": admin_user, "decided_at": now, "reviewer": admin_user}
    ReviewItem.objects.create(
        campaign=camp,
        grant=grants[0],
        recommendation="keep",
        decision="keep",
        context={"last_used_at": "2026-11-20T10:00:00+00:00"},
        **decided,
    )
    ReviewItem.objects.create(
        campaign=camp,
        grant=grants[1],
        recommendation="revoke",
        recommendation_reason="identity disabled",
        decision="revoke",
        revocation=revocation,
        outcome="revoked by revocation",
        **decided,
    )
    ReviewItem.objects.create(
        campaign=camp,
        grant=grants[2],
        recommendation="revoke",
        recommendation_reason="unused for 90 days",
        decision="keep",
        justification="nightly ETL, owner confirmed",
        **decided,
    )
    ReviewItem.objects.create(
        campaign=camp,
        grant=None,
        recommendation="keep",
        reviewer=auditor,
        # What items.snapshot recorded when the campaign opened; the grant is gone since.
        context={
            "identity": {"id": 99, "name": "Gone Person", "kind": "human", "status": "active"},
            "client": {"id": 98, "client_id": "https://old.example/c.json", "name": "Old app"},
            "server": {"id": 97, "name": "Old server"},
            "resource": "",
            "scopes": ["old:read"],
            "last_used_at": "2026-01-02T03:04:05+00:00",
        },
    )
    return camp


def _figures(report) -> dict:
    return {k: v for s in report.sections if isinstance(s, Figures) for k, v in s.items}


def _items(report) -> list[dict]:
    table = report.sections[report.primary_table]
    assert isinstance(table, Table)
    return [dict(zip([c.key for c in table.columns], row, strict=True)) for row in table.rows]


def test_the_builder_is_registered_for_its_kind():
    assert catalog.BUILDERS["campaign"] is campaign_report.build


def test_summary_figures_count_the_items_the_report_lists(reviewed):
    report = campaign_report.build({"campaign_id": reviewed.pk})
    figures, items = _figures(report), _items(report)

    assert figures["Items"] == len(items) == reviewed.items.count() == 4
    for decision, label in (("keep", "Keep"), ("revoke", "Revoke"), ("pending", "Pending")):
        assert figures[label] == sum(1 for i in items if i["decision"] == decision)
    assert figures["Kept against the recommendation (justified)"] == 1
    assert figures["Revocations done"] == 1


def test_each_item_has_reviewer_decision_justification_time_and_revocation_outcome(reviewed):
    items = _items(campaign_report.build({"campaign_id": reviewed.pk}))

    revoked = next(i for i in items if i["decision"] == "revoke")
    assert revoked["reviewer"] == "ada-admin" and revoked["decided_at"] is not None
    assert (revoked["revocation_outcome"], revoked["revocation_proof"]) == ("done", "verified")
    assert revoked["recommendation_reason"] == "identity disabled"
    kept = next(i for i in items if i["justification"])
    assert (
        kept["justification"] == "nightly ETL, owner confirmed" and kept["client"] == "ETL loader"
    )
    first = items[0]
    assert first["identity"] == "Alice Abbott" and first["scopes"] == ["crm:read"]
    assert first["last_used_at"] == "2026-11-20T10:00:00+00:00"
    gone = items[-1]  # its grant was deleted: what the item recorded when it was made
    assert (gone["identity"], gone["client"], gone["server"], gone["decision"]) == (
        "Gone Person",
        "Old app",
        "Old server",
        "pending",
    )
    assert gone["scopes"] == ["old:read"] and gone["last_used_at"] == "2026-01-02T03:04:05+00:00"


def test_an_open_campaign_is_marked_live_and_a_closed_one_names_its_record(reviewed, admin_user):
    figures = _figures(campaign_report.build({"campaign_id": reviewed.pk}))
    assert figures["State"] == "open: live, not final" and figures["Record SHA-256"] == ""

    Campaign.objects.filter(pk=reviewed.pk).update(
        status="closed", closed_at=timezone.now(), closed_by=admin_user, record_sha256="ab" * 32
    )
    report = campaign_report.build({"campaign_id": reviewed.pk})

    figures = _figures(report)
    assert figures["State"] == "closed: the frozen record"
    assert figures["Record SHA-256"] == "ab" * 32 and figures["Closed by"] == "ada-admin"
    assert report.period_end is not None


def test_a_missing_or_unknown_campaign_is_refused_by_name(db):
    for params in ({}, {"campaign_id": "x"}, {"campaign_id": 999999}):
        with pytest.raises(InvalidFilter) as bad:
            campaign_report.build(params)
        assert bad.value.param == "campaign_id"


def test_the_report_names_the_access_review_controls(reviewed):
    report = campaign_report.build({"campaign_id": reviewed.pk})

    assert {"CC6.2", "CC6.3", "A.5.18", "AC-2", "7.2.4"} <= {c.ref for c in report.controls}
    assert all(section.controls for section in report.sections)


def test_the_reports_figures_and_items_equal_the_review_apis(reviewed, auditor_client):
    figures = _figures(campaign_report.build({"campaign_id": reviewed.pk}))
    items = _items(campaign_report.build({"campaign_id": reviewed.pk}))
    detail = auditor_client.get(f"/api/v1/review-campaigns/{reviewed.pk}/")
    listed = auditor_client.get(f"/api/v1/review-campaigns/{reviewed.pk}/items/")
    assert detail.status_code == listed.status_code == 200
    progress, api_items = detail.json()["progress"], listed.json()["results"]

    for label, key in (
        ("Items", "total"),
        ("Decided", "decided"),
        ("Pending", "pending"),
        ("Keep", "keep"),
        ("Revoke", "revoke"),
        ("Reduce scopes", "reduce"),
        ("Kept against the recommendation (justified)", "kept_against_advice"),
        ("Revocations done", "revoked_done"),
        ("Revocations failed or partial", "revoked_failed"),
        ("Revocations not verified", "revoked_not_verified"),
    ):
        assert figures[label] == progress[key], label
    assert listed.json()["count"] == len(items)
    for row, api in zip(items, api_items, strict=True):
        assert (row["item"], row["grant"], row["reviewer"]) == (
            api["id"],
            api["grant"],
            api["reviewer"] or "",
        )
        assert row["decision"] == (api["decision"] or "pending")
        assert (row["justification"], row["revocation"]) == (
            api["justification"],
            api["revocation"],
        )
