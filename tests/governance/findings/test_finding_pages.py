"""The findings pages: a bookmarkable list (filters in the URL, counts by severity and kind),
one finding's page with its evidence linked and its history, triage forms for Admins only, bulk
actions, the rules page and the overview's severity chart."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from governance.findings import services
from inventory.models import Finding
from tests import ui_factories as make
from tests.ingest_helpers import make_event

pytestmark = pytest.mark.django_db
LIST = "/governance/findings/"


def test_the_list_shows_what_needs_attention_most_severe_first_with_counts(
    admin_client_, raise_finding, admin_user
):
    raise_finding(kind="access.blocked_client_called", severity="warning", summary="calls")
    raise_finding(severity="critical", summary="critical one")
    quiet = raise_finding(kind="grant.dormant", severity="high", summary="acknowledged one")
    services.acknowledge(quiet, user=admin_user)
    page = admin_client_.get(LIST)
    assert page.status_code == 200
    html = page.content.decode()
    assert html.index("critical one") < html.index("calls")
    assert "acknowledged one" not in html  # not "needs attention"
    assert "2 findings needing attention" in html
    assert 'href="?severity=critical"' in html  # a facet link, with its count beside it
    assert "client.blocked_with_grants</span> 1" in html
    everything = admin_client_.get(LIST, {"status": "all", "sort": "first_seen"})
    assert "acknowledged one" in everything.content.decode()


def test_filters_are_in_the_url_and_a_bad_one_is_a_400_naming_it(viewer_client, raise_finding):
    raise_finding(severity="high", summary="seen long ago")
    today = timezone.localdate()
    kept = viewer_client.get(LIST, {"severity": "high", "first_seen_after": str(today)})
    assert "seen long ago" in kept.content.decode()
    gone = viewer_client.get(LIST, {"last_seen_before": str(today - timedelta(days=1))})
    assert "seen long ago" not in gone.content.decode()
    bad = viewer_client.get(LIST, {"first_seen_after": "last tuesday"})
    assert bad.status_code == 400
    assert "first_seen_after" in bad.content.decode()
    assert viewer_client.get(LIST, {"severity": "severe"}).status_code == 400


def test_a_viewer_sees_no_triage_buttons_and_gets_403_on_post(viewer_client, raise_finding):
    finding = raise_finding()
    listing = viewer_client.get(LIST).content.decode()
    assert 'name="ids"' not in listing and "Apply to ticked" not in listing
    detail = viewer_client.get(f"{LIST}{finding.pk}/").content.decode()
    assert "Acknowledge" not in detail and "Revoke" not in detail
    assert viewer_client.post(f"{LIST}{finding.pk}/acknowledge/").status_code == 403
    assert (
        viewer_client.post(f"{LIST}bulk/", {"action": "resolve", "ids": [finding.pk]}).status_code
        == 403
    )
    finding.refresh_from_db()
    assert finding.status == "open"


def test_the_detail_page_links_evidence_and_offers_revocation_for_a_client(
    admin_client_, raise_finding, blocked_client
):
    grant = make.grant("g-77", client=blocked_client)
    finding = raise_finding(
        details={"grant_ids": [grant.pk, 999999], "event_ids": ["ev-gone"], "active_grants": 1}
    )
    html = admin_client_.get(f"{LIST}{finding.pk}/").content.decode()
    assert f'href="/inventory/grants/{grant.pk}/"' in html
    assert "grant #999999 (deleted)" in html
    assert "ev-gone" in html  # shown, not linked: no stored event has it
    assert f"/governance/revocations/new/client/?client={blocked_client.pk}" in html
    assert "active_grants" in html  # the details table
    history = html[html.index('id="history"') :]
    assert "<td>rule</td><td>Opened</td>" in history  # who opened it, in the history


def test_an_admin_acknowledges_then_suppresses_from_the_detail_page(admin_client_, raise_finding):
    finding = raise_finding()
    done = admin_client_.post(f"{LIST}{finding.pk}/acknowledge/", {"note": "mine"})
    assert done.status_code == 302 and done["Location"] == f"{LIST}{finding.pk}/"
    bad = admin_client_.post(f"{LIST}{finding.pk}/suppress/", {"until": "", "reason": "x"})
    assert bad.status_code == 400
    assert "until: required" in bad.content.decode()
    until = (timezone.now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    ok = admin_client_.post(f"{LIST}{finding.pk}/suppress/", {"until": until, "reason": "patch"})
    assert ok.status_code == 302
    finding.refresh_from_db()
    assert finding.status == "suppressed" and finding.suppress_reason == "patch"
    page = admin_client_.get(f"{LIST}{finding.pk}/").content.decode()
    assert "ada-admin" in page and "mine" in page


def test_an_action_that_does_not_apply_answers_400_saying_why(admin_client_, raise_finding):
    finding = raise_finding()
    refused = admin_client_.post(f"{LIST}{finding.pk}/reopen/")
    assert refused.status_code == 400
    assert "cannot reopen a finding that is open" in refused.content.decode()
    assert admin_client_.post(f"{LIST}{finding.pk}/explode/").status_code == 404
    unknown = admin_client_.post(f"{LIST}{finding.pk}/assign/", {"assignee": "nobody-here"})
    assert unknown.status_code == 400 and "no active user" in unknown.content.decode()


def test_bulk_from_the_list_returns_to_the_same_view_saying_how_many(
    admin_client_, raise_finding, admin_user
):
    one, two = raise_finding(dedup_key="1"), raise_finding(dedup_key="2")
    answer = admin_client_.post(
        f"{LIST}bulk/",
        {"action": "resolve", "ids": [one.pk, two.pk], "note": "fixed", "back": "?severity=high"},
        follow=True,
    )
    assert answer.redirect_chain[-1][0] == f"{LIST}?severity=high"
    assert "2 findings resolved." in answer.content.decode()
    assert set(Finding.objects.values_list("status", flat=True)) == {"resolved"}
    nothing = admin_client_.post(f"{LIST}bulk/", {"action": "resolve"})
    assert nothing.status_code == 400 and "Tick at least one finding" in nothing.content.decode()
    offsite = admin_client_.post(
        f"{LIST}bulk/", {"action": "resolve", "ids": [one.pk], "back": "https://evil.example/"}
    )
    assert offsite["Location"] == LIST


def test_the_empty_list_says_what_to_do(viewer_client):
    html = viewer_client.get(LIST).content.decode()
    assert "No findings yet" in html and "Rules" in html


def test_the_overview_draws_the_severity_chart_and_counts_what_needs_attention(
    viewer_client, raise_finding
):
    raise_finding(severity="critical")
    html = viewer_client.get("/").content.decode()
    assert 'id="findings-by-severity"' in html
    assert "data-plotly-figure" in html
    assert "1 critical" in html
    assert "Findings needing attention" in html


def test_the_old_flags_list_still_answers(viewer_client, raise_finding):
    raise_finding(summary="old page")
    assert viewer_client.get("/inventory/flags/").status_code == 200


def test_an_empty_filtered_list_offers_to_reset_rather_than_saying_all_is_well(
    viewer_client, raise_finding
):
    raise_finding()
    html = viewer_client.get(LIST, {"q": "no such thing"}).content.decode()
    assert "reset them" in html and "Nothing needs attention" not in html


def test_event_evidence_links_to_the_stored_event_and_names_one_not_stored(
    viewer_client, raise_finding
):
    source, _ = create_source(name="gw-findings")
    event = make_event()
    ingest_events(source=source, events=[event])
    stored = AuditEvent.objects.get(event_id=event["id"])
    finding = raise_finding(details={"event_ids": [event["id"], "evt-never-stored"]})
    html = viewer_client.get(f"{LIST}{finding.pk}/").content.decode()
    assert f'href="/audit/events/{stored.pk}/"' in html
    assert "evt-never-stored" in html and "/audit/events/None/" not in html
