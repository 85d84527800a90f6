"""The runner against a scripted authorization server on 127.0.0.1 (run in this process; the
worker tests run it in a real Celery worker): steps in order, proof, a permanent failure that
leaves the rest going, a call found "running" confirmed by a read instead of redone."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from governance.containment import services
from governance.containment.models import Revocation
from governance.platform import jobs
from inventory.models import Grant
from tests.governance.containment.conftest import inventory, oauth_connection
from tests.governance.containment.peer import RevocationPeer, grant_record

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def peer():
    server = RevocationPeer([grant_record("g-1"), grant_record("g-2")]).start()
    yield server
    server.stop()


def start(actor, peer, **kw):
    oauth_connection(peer.url, grants_url=f"{peer.url}/admin/grants")
    rows = inventory(peer.url, ["g-1", "g-2"])
    revocation = services.start_revocation(
        actor=actor,
        action="identity_client",
        identity=rows.alice,
        client=rows.agent,
        reason="offboarding",
        enqueue=False,
        **kw,
    )
    return revocation, rows


def run(revocation) -> Revocation:
    assert jobs.execute(Revocation, revocation.pk) == "done"
    revocation.refresh_from_db()
    return revocation


def test_a_revocation_revokes_at_the_idp_marks_the_ledger_and_proves_it(admin_user, peer):
    revocation, rows = start(admin_user, peer)
    revocation = run(revocation)

    assert (revocation.outcome, revocation.proof) == ("done", "verified"), list(
        revocation.steps.values_list("state", "error")
    )
    assert peer.deletes == {"g-1": 1, "g-2": 1}
    steps = list(revocation.steps.all())
    assert {s.state for s in steps} == {"done"}
    call = steps[0]
    assert call.request_summary["requests"] == [
        {"method": "DELETE", "path": "/admin/grants/g-1", "status": 204}
    ]
    # The checks read the IdP's listing once for the pass (the second check uses that read).
    first_check, second_check = [s for s in steps if s.kind == "verify"]
    assert first_check.request_summary["requests"] == [
        {"method": "GET", "path": "/admin/grants", "status": 200}
    ]
    assert second_check.request_summary["requests"] == []
    assert call.response_summary["results"][0]["path"] == "/admin/grants/g-1"
    assert call.response_summary["results"][0]["status"] == 204
    assert all(s.verified for s in steps if s.kind == "verify")
    assert "no longer listed" in steps[-1].evidence
    for grant in Grant.objects.filter(pk__in=[g.pk for g in rows.grants]):
        assert grant.status == "revoked"
        assert grant.revoked_by == admin_user.username
        assert "offboarding" in grant.revoke_reason
    assert AuditEvent.objects.filter(type="governance.revocation.finished").count() == 1


def test_a_step_that_fails_for_good_leaves_the_rest_going_and_ends_partially_done(admin_user, peer):
    peer.forbidden.add("g-1")
    revocation, rows = start(admin_user, peer)
    revocation = run(revocation)

    assert revocation.outcome == "partial"
    failed = revocation.steps.get(position=1)
    assert failed.state == "failed" and failed.attempts == 1  # a 403 is not retried
    assert "HTTP 403" in failed.error and "locked grant" in failed.error
    assert failed.response_summary["status"] == 403
    assert failed.request_summary["requests"] == [
        {"method": "DELETE", "path": "/admin/grants/g-1", "status": 403}
    ]
    assert revocation.steps.get(position=2).state == "done"
    skipped = revocation.steps.get(kind="verify", target__call_position=1)
    assert skipped.state == "skipped" and "its call failed" in skipped.error
    assert revocation.proof == "not_verified"
    assert any("locked grant" in r for r in revocation.summary["reasons"])
    # The ledger says revoked only where the IdP did revoke.
    assert Grant.objects.get(pk=rows.grants[0].pk).status == "active"
    assert Grant.objects.get(pk=rows.grants[1].pk).status == "revoked"


def test_a_call_found_running_is_confirmed_by_a_read_not_redone(admin_user, peer):
    revocation, _ = start(admin_user, peer)
    # A worker died after the IdP deleted g-1 but before the step was marked done.
    del peer.grants["g-1"]
    revocation.steps.filter(position=1).update(state="running", attempts=1)
    revocation = run(revocation)

    assert peer.deletes == {"g-2": 1}
    first = revocation.steps.get(position=1)
    assert first.state == "done"
    assert first.response_summary["outcome"] == "already gone"
    assert revocation.outcome == "done"


def test_a_second_delete_that_answers_404_is_already_gone(admin_user, peer):
    revocation, _ = start(admin_user, peer)
    del peer.grants["g-2"]  # someone revoked it at the IdP in the meantime
    revocation = run(revocation)
    second = revocation.steps.get(position=2)
    assert second.response_summary["outcome"] == "already gone"
    assert second.response_summary["results"][0]["status"] == 404
    assert revocation.outcome == "done"


def test_rate_limited_calls_wait_for_the_idps_reset_and_succeed(admin_user, peer):
    peer.fail_next(2, 429, body={"error": "rate_limited"}, headers={"Retry-After": "0"})
    revocation, _ = start(admin_user, peer)
    revocation = run(revocation)
    assert revocation.outcome == "done"
    assert revocation.steps.get(position=1).attempts == 3


def test_calls_are_paced_under_the_connections_revoke_rate(admin_user, peer, monkeypatch):
    from governance.containment import runner
    from governance.idp.models import IdpConnection

    waits = []
    monkeypatch.setattr(runner._Run, "wait", lambda self, seconds: waits.append(seconds))
    revocation, _ = start(admin_user, peer)
    IdpConnection.objects.update(
        config={**IdpConnection.objects.get().config, "revoke_rate_per_second": "0.1"}
    )
    revocation = run(revocation)
    assert revocation.outcome == "done"
    # Four IdP requests (two deletes, two checks) at one per 10 s: each after the first waits
    # for its slot, later slots further off (the waits the pacer asked for; nothing slept).
    assert len(waits) == 3
    assert waits == sorted(waits) and all(w <= 10 * (i + 1) for i, w in enumerate(waits))


def test_the_residual_window_names_what_revocation_cannot_close(admin_user, peer):
    from datetime import timedelta

    from django.utils import timezone

    revocation, rows = start(admin_user, peer)
    exp = timezone.now() + timedelta(minutes=10)
    Grant.objects.filter(pk=rows.grants[0].pk).update(
        access_token_expires_at=exp, id_jag_jti="jti-1"
    )
    revocation = run(revocation)

    assert revocation.residual_until == exp
    whats = [item["what"] for item in revocation.residual]
    assert "self-contained access tokens of 1 grant(s) stay valid until their exp" in whats
    assert any("ID-JAG" in w for w in whats)


def test_a_connection_disabled_after_the_confirm_skips_its_calls_with_the_reason(admin_user, peer):
    from governance.idp.models import IdpConnection

    revocation, rows = start(admin_user, peer)
    IdpConnection.objects.update(enabled=False)
    revocation = run(revocation)

    assert revocation.outcome == "failed" and revocation.proof == "not_verified"
    call = revocation.steps.get(position=1)
    assert call.state == "skipped" and "is disabled" in call.error
    assert not peer.deletes
    assert set(
        Grant.objects.filter(pk__in=[g.pk for g in rows.grants]).values_list("status", flat=True)
    ) == {"active"}
