"""Revocations on a real Celery worker: against oidc-provider (a real authorization server) a
revoked refresh token introspects inactive and can no longer be used, and a kill switch refuses
the client's token requests until its undo; a worker killed with SIGKILL mid-call is recovered
by the sweeper and no grant is deleted twice at the IdP; a 30 s outage (503 with Retry-After)
is ridden out; a step the IdP refuses for good fails alone and the revocation ends partially
done."""

from __future__ import annotations

import contextlib
import time
from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from audit.models import AuditEvent
from governance.access.models import AdminAction
from governance.containment import services
from governance.containment.models import Revocation
from governance.platform import jobs
from inventory.models import Grant
from tests import ui_factories as f
from tests.celery_worker import Worker, _wait_ready, start_worker
from tests.governance.connectors.peers import start_oauth_peer
from tests.governance.containment.conftest import (
    client_credentials,
    inventory,
    oauth_connection,
    oidc_connection,
    oidc_inventory,
)
from tests.governance.containment.peer import RevocationPeer, grant_record

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WAIT_FOR_WORKER = 120  # generous: the machine is shared; a bound, not an assertion


def wait_for(revocation: Revocation, condition) -> Revocation:
    deadline = time.monotonic() + WAIT_FOR_WORKER
    while time.monotonic() < deadline:
        revocation.refresh_from_db()
        if condition(revocation):
            return revocation
        time.sleep(0.2)
    return revocation


def finished(revocation: Revocation) -> bool:
    return not revocation.is_open and bool(revocation.outcome)


@contextlib.contextmanager
def another_worker(tmp_path):
    """A second worker on the first one's broker (the `celery_worker` fixture's folders): the
    one that takes the message the sweeper re-sends."""
    log_path = tmp_path / "celery-worker-2.log"
    process = start_worker(tmp_path / "worker-var", log_path)
    try:
        _wait_ready(process, log_path)
        yield Worker(process, log_path)
    finally:
        process.kill()  # as the fixture stops its worker: the broker folder is a throwaway
        process.wait()


@pytest.fixture(scope="module")
def oidc_peer():
    yield from start_oauth_peer()


def test_a_revoked_refresh_token_introspects_inactive_and_no_longer_refreshes(
    admin_user, oidc_peer, celery_worker
):
    issuer, facts = oidc_peer.config["issuer"], oidc_peer.facts
    oauth_connection(issuer, grants_url=oidc_peer.config["grants_url"])
    alice = f.identity(facts["subject"], issuer=issuer)
    agent = f.client(facts["client_id"], issuer=issuer)
    grant = f.grant(
        facts["grant_id"], client=agent, subject=alice, issuer=issuer, has_refresh_token=True
    )
    refresh_token = facts["refresh_token"]
    assert oidc_peer.connector().introspect(refresh_token).active

    revocation = services.start_revocation(
        actor=admin_user,
        action="grant",
        grant=grant,
        reason="token leaked in a log",
        tokens=[refresh_token],
    )
    revocation = wait_for(revocation, finished)

    assert (revocation.outcome, revocation.proof) == ("done", "verified"), list(
        revocation.steps.values("operation", "state", "error")
    )
    introspected = revocation.steps.get(operation="verify_introspection")
    assert introspected.evidence == f"introspection answered active=false for {refresh_token[:6]}…"
    assert not oidc_peer.connector().introspect(refresh_token).active
    agent_creds = ("agent", "agent-secret")
    answer = httpx.post(
        f"{issuer}/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=agent_creds,
        timeout=5,
    )
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    assert Grant.objects.get(pk=grant.pk).status == "revoked"
    # No token in any step's record: only its first characters.
    for step in revocation.steps.all():
        assert refresh_token not in str(step.public_target)
        assert refresh_token not in str(step.request_summary) + str(step.response_summary)
        assert refresh_token not in step.description + step.evidence + step.error
    assert "governance.run_revocation[" in celery_worker.log()


def test_the_kill_switch_refuses_the_clients_token_requests_and_the_undo_lets_it_in_again(
    admin_user, oidc_peer, celery_worker
):
    assert client_credentials(oidc_peer, "tool_agent").status_code == 200
    oidc_connection(oidc_peer)
    tool_agent, grants = oidc_inventory(oidc_peer, "tool-agent", ["kim", "lee"])

    kill = services.start_revocation(
        actor=admin_user, action="client", client=tool_agent, reason="tool agent exfiltrating"
    )
    kill = wait_for(kill, finished)

    assert (kill.outcome, kill.proof) == ("done", "verified"), list(
        kill.steps.values("operation", "state", "error")
    )
    # oidc-provider no longer knows the client: its token requests fail invalid_client.
    refused = client_credentials(oidc_peer, "tool_agent")
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    # Its grants are gone at the IdP, and each check says so with what it read.
    connector = oidc_peer.connector()
    assert connector.grants_for("kim", "tool-agent") == []
    assert connector.grants_for("lee", "tool-agent") == []
    checks = {s.operation: s for s in kill.steps.filter(kind="verify")}
    assert set(checks) == {"verify_client_inactive", "verify_absent"}
    evidence = set(kill.steps.filter(kind="verify").values_list("verified", "evidence"))
    assert evidence == {
        (True, "the IdP lists tool-agent as inactive"),
        (True, "the IdP lists nothing kim gave tool-agent"),
        (True, "the IdP lists nothing lee gave tool-agent"),
    }
    tool_agent.refresh_from_db()
    assert tool_agent.review_status == "blocked" and tool_agent.cut_off_at is not None
    assert set(
        Grant.objects.filter(pk__in=[g.pk for g in grants]).values_list("status", flat=True)
    ) == {"revoked"}
    assert client_credentials(oidc_peer, "agent").status_code == 200  # another agent is untouched
    assert "governance.run_revocation[" in celery_worker.log()

    undo = services.undo_revocation(actor=admin_user, revocation=kill, reason="false alarm")
    undo = wait_for(undo, finished)

    assert client_credentials(oidc_peer, "tool_agent").status_code == 200
    assert undo.steps.get(operation="verify_client_active").evidence == (
        "the IdP lists tool-agent as active"
    )
    # The deleted grants cannot come back (the users consent again): the plan says so.
    assert any("cannot be restored" in line for line in undo.plan["warnings"])
    assert (undo.outcome, undo.proof) == ("done", "verified")
    tool_agent.refresh_from_db()
    assert tool_agent.review_status != "blocked" and tool_agent.cut_off_at is None
    assert AdminAction.objects.filter(action="revocation.undo", object_id=str(undo.pk)).exists()
    finished_events = AuditEvent.objects.filter(type="governance.revocation.finished")
    assert {e.payload["attributes"]["revocation_id"] for e in finished_events} == {
        kill.pk,
        undo.pk,
    }


def test_a_worker_killed_mid_call_is_resumed_by_the_sweeper_and_no_grant_is_deleted_twice(
    admin_user, celery_worker, tmp_path
):
    peer = RevocationPeer([grant_record(f"g-{n}") for n in (1, 2, 3)]).start()
    try:
        peer.held = "g-2"  # its DELETE waits: the worker dies inside that call
        oauth_connection(peer.url, grants_url=f"{peer.url}/admin/grants")
        rows = inventory(peer.url, ["g-1", "g-2", "g-3"])
        revocation = services.start_revocation(
            actor=admin_user,
            action="identity_client",
            identity=rows.alice,
            client=rows.agent,
            reason="compromised agent",
        )
        # One revoke_user_client call deletes g-1, g-2, g-3 in turn: the worker dies in g-2's.
        assert peer.holding.wait(timeout=WAIT_FOR_WORKER)
        celery_worker.process.kill()  # SIGKILL: no goodbye, the step stays "running"
        celery_worker.process.wait()
        peer.release.set()  # the IdP finishes the delete the dead worker asked for
        gone = wait_for(revocation, lambda _: "g-2" not in peer.grants)
        assert "g-2" not in peer.grants
        revocation = gone
        assert revocation.status == "running"
        assert revocation.steps.get(position=1).state == "running"

        with another_worker(tmp_path) as worker:
            later = timezone.now() + timedelta(hours=1)  # past the heartbeat timeout
            assert jobs.sweep(Revocation, now=later)["requeued"] == 1
            revocation = wait_for(revocation, finished)
            assert "governance.run_revocation[" in worker.log()
    finally:
        peer.release.set()
        peer.stop()

    assert (revocation.status, revocation.outcome, revocation.attempts) == ("done", "done", 2)
    assert peer.deletes == {"g-1": 1, "g-2": 1, "g-3": 1}
    # The resumed call read first, saw g-3 still listed, and deleted only that.
    resumed = revocation.steps.get(position=1)
    assert [r["target"] for r in resumed.response_summary["results"]] == ["g-3"]
    assert revocation.proof == "verified"


def test_an_idp_unavailable_for_30_seconds_is_retried_and_the_revocation_done(
    admin_user, celery_worker
):
    peer = RevocationPeer([grant_record("g-1")]).start()
    try:
        oauth_connection(peer.url, grants_url=f"{peer.url}/admin/grants")
        rows = inventory(peer.url, ["g-1"])
        peer.outage(30, retry_after=5)
        revocation = services.start_revocation(
            actor=admin_user,
            action="grant",
            grant=rows.grants[0],
            reason="suspicious use",
        )
        revocation = wait_for(revocation, finished)
    finally:
        peer.stop()

    assert (revocation.outcome, revocation.proof) == ("done", "verified")
    call = revocation.steps.get(position=1)
    assert call.attempts > 1  # it met the outage and waited it out
    assert peer.deletes == {"g-1": 1}  # the IdP acted once, on the try after the outage
    assert call.response_summary["results"][0]["status"] == 204


def test_a_step_that_fails_for_good_on_the_worker_ends_the_revocation_partially_done(
    admin_user, celery_worker
):
    peer = RevocationPeer([grant_record("g-1"), grant_record("g-2")]).start()
    peer.forbidden.add("g-1")  # the IdP refuses this one for good: 403
    try:
        oauth_connection(peer.url, grants_url=f"{peer.url}/admin/grants")
        rows = inventory(peer.url, ["g-1", "g-2"])
        revocation = services.start_revocation(
            actor=admin_user, action="bulk", filter_params={"issuer": peer.url}, reason="leaver"
        )
        revocation = wait_for(revocation, finished)
    finally:
        peer.stop()

    assert (revocation.outcome, revocation.proof) == ("partial", "not_verified")
    failed = revocation.steps.get(position=1)
    assert failed.state == "failed" and "HTTP 403" in failed.error
    assert any("locked grant" in reason for reason in revocation.summary["reasons"])
    assert revocation.steps.get(position=2).state == "done"  # the rest of the plan went on
    assert peer.deletes == {"g-2": 1}
    statuses = dict(
        Grant.objects.filter(pk__in=[g.pk for g in rows.grants]).values_list(
            "external_id", "status"
        )
    )
    assert statuses == {"g-1": "active", "g-2": "revoked"}
