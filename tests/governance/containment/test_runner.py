"""The runner against a scripted authorization server on 127.0.0.1 (run in this process; the
worker tests run it in a real Celery worker): steps in order, proof, a permanent failure that
leaves the rest going, a call found "running" confirmed by a read instead of redone, a 404 the
listing contradicts retried; a revocation the job engine gives up on still ends with an
outcome and its "finished" event."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from audit.models import AuditEvent
from governance.connectors.okta import OktaConnector
from governance.containment import outcome, runner, services
from governance.containment.models import Revocation
from governance.platform import jobs
from inventory.models import Grant
from tests.governance.connectors.peers import okta_key
from tests.governance.containment.conftest import inventory, oauth_connection
from tests.governance.containment.peer import RevocationPeer, grant_record

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def peer():
    server = RevocationPeer([grant_record("g-1"), grant_record("g-2")]).start()
    yield server
    server.stop()


def start(actor, peer, **kw):
    """What alice granted the agent (g-1, g-2): one revoke_user_client call at the peer."""
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


def start_bulk(actor, peer):
    """The same two grants through a bulk revocation: one revoke call per grant (positions 1
    and 2), so a step's fate can differ from its neighbour's."""
    oauth_connection(peer.url, grants_url=f"{peer.url}/admin/grants")
    rows = inventory(peer.url, ["g-1", "g-2"])
    revocation = services.start_revocation(
        actor=actor,
        action="bulk",
        filter_params={"issuer": peer.url},
        reason="offboarding",
        enqueue=False,
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
    assert [(s.kind, s.operation) for s in steps] == [
        ("call", "revoke_user_client"),
        ("local", "mark_revoked"),
        ("verify", "verify_absent"),
    ]
    assert {s.state for s in steps} == {"done"}
    call, _, check = steps
    # What alice gave the agent, listed (the filter is in the query, which is never recorded),
    # then each grant deleted.
    assert call.request_summary["requests"] == [
        {"method": "GET", "path": "/admin/grants", "status": 200},
        {"method": "DELETE", "path": "/admin/grants/g-1", "status": 204},
        {"method": "DELETE", "path": "/admin/grants/g-2", "status": 204},
    ]
    assert ("GET", {"subject": "alice", "client_id": "agent"}) in [
        (r.method, r.query) for r in peer.requests
    ]
    assert [(r["target"], r["path"], r["status"]) for r in call.response_summary["results"]] == [
        ("g-1", "/admin/grants/g-1", 204),
        ("g-2", "/admin/grants/g-2", 204),
    ]
    assert check.verified and check.evidence == "the IdP lists nothing alice gave agent"
    for grant in Grant.objects.filter(pk__in=[g.pk for g in rows.grants]):
        assert grant.status == "revoked"
        assert grant.revoked_by == admin_user.username
        assert "offboarding" in grant.revoke_reason
    assert AuditEvent.objects.filter(type="governance.revocation.finished").count() == 1


def test_a_bulk_revocation_checks_its_grants_against_one_read_of_the_listing(admin_user, peer):
    revocation, _ = start_bulk(admin_user, peer)
    revocation = run(revocation)

    assert (revocation.outcome, revocation.proof) == ("done", "verified")
    steps = list(revocation.steps.all())
    assert steps[0].request_summary["requests"] == [
        {"method": "DELETE", "path": "/admin/grants/g-1", "status": 204}
    ]
    # The checks read the IdP's listing once for the pass (the second check uses that read).
    first_check, second_check = [s for s in steps if s.kind == "verify"]
    assert first_check.request_summary["requests"] == [
        {"method": "GET", "path": "/admin/grants", "status": 200}
    ]
    assert second_check.request_summary["requests"] == []
    assert "grant g-2 is no longer listed" in second_check.evidence


def test_a_step_that_fails_for_good_leaves_the_rest_going_and_ends_partially_done(admin_user, peer):
    peer.forbidden.add("g-1")
    revocation, rows = start_bulk(admin_user, peer)
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


def test_a_user_client_call_refused_for_good_revokes_nothing_in_the_ledger(admin_user, peer):
    peer.forbidden.add("g-1")
    revocation, rows = start(admin_user, peer)
    revocation = run(revocation)

    assert (revocation.outcome, revocation.proof) == ("failed", "not_verified")
    call = revocation.steps.get(position=1)
    assert call.state == "failed" and "locked grant" in call.error
    assert set(
        Grant.objects.filter(pk__in=[g.pk for g in rows.grants]).values_list("status", flat=True)
    ) == {"active"}


def test_a_call_found_running_is_confirmed_by_a_read_not_redone(admin_user, peer):
    revocation, _ = start(admin_user, peer)
    # A worker died after the IdP deleted both grants but before the step was marked done.
    peer.grants.clear()
    revocation.steps.filter(position=1).update(state="running", attempts=1)
    revocation = run(revocation)

    assert not peer.deletes
    first = revocation.steps.get(position=1)
    assert first.state == "done"
    assert first.response_summary["outcome"] == "already gone"
    assert first.response_summary["confirmed_by"] == "the IdP lists nothing alice gave agent"
    assert revocation.outcome == "done"


def test_a_call_found_running_with_work_left_is_redone_for_what_is_still_listed(admin_user, peer):
    revocation, _ = start(admin_user, peer)
    del peer.grants["g-1"]  # the dead worker's call got as far as g-1
    revocation.steps.filter(position=1).update(state="running", attempts=1)
    revocation = run(revocation)

    assert peer.deletes == {"g-2": 1}  # g-1 is not deleted a second time
    assert revocation.outcome == "done" and revocation.proof == "verified"


def test_a_second_delete_that_answers_404_is_already_gone(admin_user, peer):
    revocation, _ = start_bulk(admin_user, peer)
    del peer.grants["g-2"]  # someone revoked it at the IdP in the meantime
    revocation = run(revocation)
    second = revocation.steps.get(position=2)
    assert second.response_summary["outcome"] == "already gone"
    assert second.response_summary["results"][0]["status"] == 404
    assert revocation.outcome == "done"


def test_a_404_the_listing_contradicts_is_retried_until_the_idp_agrees(admin_user, peer):
    # A replica behind: the first DELETE of g-1 answers 404 while the listing still has it.
    # The connector's confirming read says `still_listed` (retryable); the retry deletes it.
    peer.lagging.add("g-1")
    revocation, _ = start(admin_user, peer)
    revocation = run(revocation)

    call = revocation.steps.get(position=1)
    assert call.state == "done" and call.attempts == 2
    assert revocation.outcome == "done" and revocation.proof == "verified"
    assert peer.deletes == {"g-1": 2, "g-2": 1}  # g-2's delete is not repeated


def test_rate_limited_calls_wait_for_the_idps_reset_and_succeed(admin_user, peer):
    peer.fail_next(2, 429, body={"error": "rate_limited"}, headers={"Retry-After": "0"})
    revocation, _ = start(admin_user, peer)
    revocation = run(revocation)
    assert revocation.outcome == "done"
    assert revocation.steps.get(position=1).attempts == 3


def test_calls_are_paced_under_the_connections_revoke_rate(admin_user, peer, monkeypatch):
    from governance.idp.models import IdpConnection

    waits = []
    monkeypatch.setattr(runner._Run, "wait", lambda self, seconds: waits.append(seconds))
    revocation, _ = start_bulk(admin_user, peer)
    IdpConnection.objects.update(
        config={**IdpConnection.objects.get().config, "revoke_rate_per_second": "0.1"}
    )
    revocation = run(revocation)
    assert revocation.outcome == "done"
    # Three IdP requests (two deletes, one read for both checks: the second is answered from
    # the first's read and waits for no slot) at one per 10 s: each after the first waits for
    # its slot, later slots further off (the waits the pacer asked for; nothing slept).
    assert len(waits) == 2
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


def claimed_and_silent(revocation, *, attempts: int) -> None:
    """The revocation as a worker left it when it died: claimed, run `attempts` times, its
    heartbeat long silent."""
    jobs.claim(Revocation, revocation.pk)
    Revocation.objects.filter(pk=revocation.pk).update(
        attempts=attempts, heartbeat_at=timezone.now() - timedelta(hours=2)
    )


def test_a_revocation_the_sweeper_gives_up_on_still_ends_partially_done_and_recorded(
    admin_user, peer, settings
):
    revocation, rows = start_bulk(admin_user, peer)
    claimed_and_silent(revocation, attempts=settings.CRAWL_MAX_ATTEMPTS)
    # Its last worker revoked g-1, then died in the call for g-2.
    revocation.steps.filter(position=1).update(state="done", response_summary={"outcome": "done"})
    revocation.steps.filter(position=2).update(state="running", attempts=1)

    assert jobs.sweep(Revocation)["failed"] == 1

    revocation.refresh_from_db()
    assert (revocation.status, revocation.outcome, revocation.proof) == (
        "failed",
        "partial",
        "not_verified",
    )
    states = dict(revocation.steps.values_list("position", "state"))
    assert states == {1: "done", 2: "failed", 3: "failed", 4: "skipped", 5: "skipped"}
    died_in = revocation.steps.get(position=2)
    assert died_in.error.startswith("unknown: its worker stopped during it")
    assert "given up after 3 run(s)" in died_in.error and "worker went silent" in died_in.error
    assert revocation.steps.get(position=3).error.startswith("not run: ")
    assert revocation.steps.get(position=4).error.startswith("not checked: ")
    assert any("unknown: its worker stopped" in r for r in revocation.summary["reasons"])
    finished = AuditEvent.objects.get(type="governance.revocation.finished")
    assert finished.payload["attributes"]["outcome"] == "partial"
    assert not peer.deletes  # giving up calls no IdP

    # A second sweep finds nothing to give up, and records nothing twice.
    assert jobs.sweep(Revocation)["failed"] == 0
    assert AuditEvent.objects.filter(type="governance.revocation.finished").count() == 1


def test_a_revocation_given_up_before_any_call_ends_failed(admin_user, peer, settings):
    revocation, _ = start(admin_user, peer)
    claimed_and_silent(revocation, attempts=settings.CRAWL_MAX_ATTEMPTS)

    assert jobs.sweep(Revocation)["failed"] == 1

    revocation.refresh_from_db()
    assert (revocation.status, revocation.outcome) == ("failed", "failed")
    assert AuditEvent.objects.filter(type="governance.revocation.finished").count() == 1


def test_a_runner_that_crashes_still_ends_the_revocation_with_an_outcome(
    admin_user, peer, monkeypatch
):
    def broken(revocation, progress):
        raise RuntimeError("database went away")

    monkeypatch.setattr(outcome, "finish", broken)
    revocation, _ = start(admin_user, peer)

    assert jobs.execute(Revocation, revocation.pk) == "failed"

    revocation.refresh_from_db()
    assert (revocation.status, revocation.outcome, revocation.proof) == (
        "failed",
        "done",
        "verified",
    )
    assert any("database went away" in e["message"] for e in revocation.error_log)
    assert AuditEvent.objects.filter(type="governance.revocation.finished").count() == 1


def test_an_undo_step_says_what_the_idp_restored_and_what_was_active_already():
    """Okta's Cross App Access connections set ACTIVE again (what only an undo answers)."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth2/v1/token":
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        if request.method == "PATCH":
            return httpx.Response(200, json={"id": "cwo1", "status": "ACTIVE"})
        if request.url.path.endswith("/cwo/connections"):
            off = {"id": "cwo1", "requestingAppInstanceId": "0oaAgent", "status": "INACTIVE"}
            on = {"id": "cwo2", "requestingAppInstanceId": "0oaAgent", "status": "ACTIVE"}
            return httpx.Response(200, json=[off, on])
        return httpx.Response(200, json={"id": "0oaAgent", "status": "ACTIVE"})

    pem, _ = okta_key()
    connector = OktaConnector(
        {"domain": "acme.okta.com", "client_id": "0oaConsole"},
        pem,
        mock=httpx.MockTransport(answer),
    )

    summary = runner._call_connector(
        connector, "reactivate_client_grants", {"client_id": "0oaAgent"}
    )

    assert summary["outcome"] == "done"
    assert [(r["target"], r["outcome"]) for r in summary["results"]] == [
        ("cwo1", "restored"),
        ("cwo2", "already active"),
    ]


def test_many_checks_at_one_idp_read_its_full_listing_once(admin_user, peer):
    """A bulk of many (subject, client) pairs is verified against one full listing of the IdP,
    not one filtered read per pair (each read would wait for a slot under the rate limit)."""
    oauth_connection(peer.url, grants_url=f"{peer.url}/admin/grants")
    ids = [f"g-{i}" for i in range(runner.FULL_LISTING_MIN_PAIRS)]
    for i, gid in enumerate(ids):
        peer.grants[gid] = {"id": gid, "subject": f"user-{i}", "client_id": "agent"}
        inventory(peer.url, [gid], subject=f"user-{i}")
    revocation = services.start_revocation(
        actor=admin_user,
        action="bulk",
        filter_params={"issuer": peer.url},
        reason="offboarding",
        enqueue=False,
    )
    before = len(peer.requests)
    revocation = run(revocation)

    assert (revocation.outcome, revocation.proof) == ("done", "verified")
    reads = [r for r in peer.requests[before:] if r.method == "GET" and "/admin/grants" in r.path]
    assert len(reads) == 1 and "subject" not in reads[0].query
