"""A revocation's page while it runs and once it has finished: each step's state, attempts,
next retry, request and answer, verification and evidence; polling every second while open and
never after; the outcome with its reasons; the residual window; orphaned tasks and "used after
revocation" flags; a long revocation's live table."""

from __future__ import annotations

from datetime import timedelta

import pytest

from governance.containment.models import Revocation
from inventory.models import Flag, Task
from tests.governance.containment.rows import revocation_row, step_row
from tests.ui_factories import T0, small_inventory

pytestmark = pytest.mark.django_db

LIST = "/governance/revocations/"


@pytest.fixture
def inv(db):
    return small_inventory()


def test_the_progress_fragment_shows_each_steps_state_retry_answer_and_proof(viewer_client, inv):
    rev = revocation_row(status="running", outcome="", started_at=T0, grant=inv["grant"])
    step_row(
        rev,
        1,
        state="done",
        attempts=1,
        request_summary={
            "method": "DELETE",
            "requests": [{"method": "DELETE", "path": "/api/v1/grants/g", "status": 204}],
        },
        response_summary={"status": 204},
    )
    step_row(rev, 2, state="running", attempts=2)
    step_row(rev, 3, state="pending", attempts=1, next_retry_at=T0 + timedelta(seconds=30))
    step_row(
        rev, 4, state="failed", attempts=5, error="Okta said E0000006: You do not have permission"
    )
    step_row(rev, 5, state="skipped", description="cancel tasks (no cancel hook)")
    step_row(
        rev,
        6,
        kind="verify",
        operation="verify_absent",
        state="done",
        verified=True,
        evidence="not listed by Okta",
    )
    step_row(
        rev,
        7,
        kind="verify",
        operation="verify_introspection",
        state="done",
        verified=False,
        evidence="introspection active=true",
    )
    answer = viewer_client.get(f"{LIST}{rev.pk}/", HTTP_HX_REQUEST="true")
    html = answer.content.decode()
    assert "HX-Request" in answer["Vary"] and "<html" not in html
    for state in ("Done", "Running", "Pending", "Failed", "Skipped"):
        assert f">{state}</span>" in html, state
    assert 'hx-trigger="every 1s"' in html  # still open: it polls
    assert "Running: 5 of 7 steps finished." in html
    assert '<span class="muted">method</span> DELETE' in html
    assert '<span class="muted">requests</span> DELETE /api/v1/grants/g → 204' in html
    assert '<span class="muted">status</span> 204' in html
    assert "Okta said E0000006: You do not have permission" in html
    assert ">verified</span>" in html and "not listed by Okta" in html
    assert ">not verified</span>" in html and "introspection active=true" in html
    assert T0.strftime("%H:%M:30") in html  # the next retry


def test_a_long_running_revocation_shows_what_moves_and_every_step_once_finished(
    viewer_client, inv
):
    rev = revocation_row(action="bulk", status="running", outcome="", started_at=T0)
    for n in range(1, 71):
        step_row(rev, n, state="done", finished_at=T0 + timedelta(seconds=n))
    step_row(rev, 71, state="running", description="revoking grant 71")
    for n in range(72, 101):
        step_row(rev, n, description=f"pending {n}")
    live = viewer_client.get(f"{LIST}{rev.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "Showing 31 of 100 steps while it runs" in live  # 1 running, 20 next, 10 latest
    assert 'id="step-71"' in live and 'id="step-70"' in live and 'id="step-91"' in live
    assert 'id="step-1"' not in live and 'id="step-92"' not in live
    assert '<progress value="70" max="100">' in live and ">70 done</span>" in live
    Revocation.objects.filter(pk=rev.pk).update(status="done", outcome="done")
    done = viewer_client.get(f"{LIST}{rev.pk}/").content.decode()
    assert "Showing" not in done and 'id="step-1"' in done and 'id="step-100"' in done


def test_a_finished_revocation_stops_polling_and_says_how_it_ended(viewer_client, inv):
    rev = revocation_row(
        outcome="partial",
        grant=inv["grant"],
        residual_until=T0 + timedelta(hours=1),
        residual=[
            {"what": "Entra: existing access tokens stay valid for their lifetime", "until": None}
        ],
    )
    step_row(rev, 1, state="done")
    step_row(
        rev,
        2,
        state="failed",
        error="no credential: rotate one in first",
        description="Revoke at Okta",
    )
    html = viewer_client.get(f"{LIST}{rev.pk}/").content.decode()
    assert "hx-trigger" not in html
    assert "Partially done." in html and "1 of 2 steps did not run to the end" in html
    assert "Step 2, Revoke at Okta: failed, no credential: rotate one in first" in html
    assert "Access tokens already issued stay valid until 2026-11-01 13:00 UTC" in html
    assert "existing access tokens stay valid for their lifetime" in html
    done = revocation_row(grant=inv["grant"], proof="verified")
    assert (
        "Every step succeeded and the IdPs confirm it."
        in viewer_client.get(f"{LIST}{done.pk}/").content.decode()
    )


def test_orphaned_tasks_and_used_after_revocation_flags_show_on_the_revocation(viewer_client, inv):
    rev = revocation_row(action="client", client=inv["cursor"])
    Task.objects.filter(pk=inv["task"].pk).update(
        orphaned_at=T0, orphaned_by_revocation=rev.pk, owner_action="needs_owner_action"
    )
    Flag.objects.create(
        kind="containment.used_after_revocation",
        severity="high",
        object_type="inventory.client",
        object_id=str(inv["cursor"].pk),
        summary="Cursor called crm.search after the kill switch",
        details={"revocation": rev.pk},
        raised_at=T0,
        last_raised_at=T0,
    )
    html = viewer_client.get(f"{LIST}{rev.pk}/").content.decode()
    assert 'Orphaned tasks <span class="muted">(1)</span>' in html
    assert "needs owner action" in html and "Alice Abbott" in html
    assert "Cursor called crm.search after the kill switch" in html
    assert 'Used after revocation <span class="muted">(1)</span>' in html
