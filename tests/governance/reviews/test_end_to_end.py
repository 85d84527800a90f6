"""An access-review campaign end to end, on a real Celery worker against a real authorization
server (the oidc-provider peer): open → decide (keep, revoke, reduce) → the reminder email
(through an SMTP server the test starts, sent by the worker's beat task) → close → the
revocations run on the worker → the campaign is closed with its frozen record and digest, and
the revoked grants are gone at the IdP while the kept one is not."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from governance.access.models import AdminAction
from governance.reviews import record, services, tasks
from governance.reviews.models import Campaign
from inventory.models import Grant
from tests.governance.connectors.peers import start_oauth_peer
from tests.governance.containment.conftest import oidc_connection, oidc_inventory
from tests.governance.reviews.conftest import console_user
from tests.receivers.fixtures import _smtp_server  # noqa: F401 - the fixture

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WAIT_FOR_WORKER = 120  # generous: the machine is shared; a bound, not an assertion


@pytest.fixture(autouse=True)
def quick_containment_settings(settings):
    """Loopback allowed (the peer lives there); retries wait tenths, not seconds."""
    settings.FETCH_ALLOWLIST = ["127.0.0.1"]
    settings.CONTAINMENT_RETRY_BASE_SECONDS = 0.1
    settings.CONTAINMENT_RATE_PER_SECOND = 100


@pytest.fixture(scope="module")
def oidc_peer():
    yield from start_oauth_peer()


@pytest.fixture
def worker_mail(_smtp_server, monkeypatch):  # noqa: F811 - the fixture imported above
    """The worker (started after this fixture) sends email to the test's SMTP server."""
    monkeypatch.setenv("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
    monkeypatch.setenv("EMAIL_HOST", "127.0.0.1")
    monkeypatch.setenv("EMAIL_PORT", str(_smtp_server.port))
    monkeypatch.setenv("CONSOLE_BASE_URL", "https://console.acme.example")
    _smtp_server.clear()
    return _smtp_server


def wait_until(condition, what: str):
    deadline = time.monotonic() + WAIT_FOR_WORKER
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError(f"the worker did not get there: {what}")


def test_a_campaign_runs_from_open_to_a_frozen_record_with_its_grants_revoked_at_the_idp(
    admin_user, oidc_peer, worker_mail, celery_worker
):
    now = timezone.now()
    oidc_connection(oidc_peer)
    agent, grants = oidc_inventory(oidc_peer, "agent", ["kim", "lee", "max"])
    kim, lee, max_ = grants
    Grant.objects.filter(pk=kim.pk).update(last_used_at=now - timedelta(days=2))
    Grant.objects.filter(pk=lee.pk).update(last_used_at=now - timedelta(days=120))
    Grant.objects.filter(pk__in=[g.pk for g in grants]).update(scopes=["api:read", "api:write"])
    reviewer = console_user("rita-reviewer", "rita@acme.example")

    campaign = services.open_campaign(
        actor=admin_user,
        name="Agent access, Q4",
        scope={"client_ids": [agent.pk]},
        reviewer_rule="named",
        reviewers=[reviewer],
        due_at=now + timedelta(days=5),
        remind_days_before=[7],
    )
    items = {i.grant_id: i for i in campaign.items.all()}
    assert items[lee.pk].recommendation == "revoke"
    services.decide(item=items[lee.pk], by=reviewer, decision="revoke")
    services.decide(item=items[max_.pk], by=reviewer, decision="reduce", keep_scopes=["api:read"])

    # The beat task, on the worker: Rita still has one item pending, so she is reminded.
    tasks.send_reminders.delay()
    wait_until(lambda: worker_mail.received, "the reminder email")
    mail = worker_mail.received[0]
    recipients, message = mail.rcpt_tos, mail.message
    assert recipients == ["rita@acme.example"]
    assert "You have 1 access review item to decide" in message.get_payload(decode=True).decode()

    services.decide(item=items[kim.pk], by=reviewer, decision="keep", justification="daily use")
    services.close_campaign(campaign=campaign, actor=admin_user)
    assert Campaign.objects.get(pk=campaign.pk).status == "closing"

    wait_until(
        lambda: Campaign.objects.get(pk=campaign.pk).status == "closed", "the campaign closed"
    )
    campaign.refresh_from_db()

    # The record: every item, frozen, with a digest anyone can recompute.
    assert record.verify(campaign)
    frozen = {i["grant_id"]: i for i in campaign.record["items"]}
    assert frozen[kim.pk]["decision"] == "keep" and frozen[kim.pk]["revocation"] is None
    assert frozen[kim.pk]["justification"] == "daily use"
    for grant in (lee, max_):
        revocation = frozen[grant.pk]["revocation"]
        assert (revocation["outcome"], revocation["proof"]) == ("done", "verified"), revocation
        assert frozen[grant.pk]["reviewer"] == "rita-reviewer"
    assert frozen[max_.pk]["outcome"].endswith("To grant again with only: api:read.")
    canonical = json.dumps(
        campaign.record, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    assert record.digest(json.loads(canonical)) == campaign.record_sha256

    # At the IdP: the revoked grants are gone, the kept one is still there.
    connector = oidc_peer.connector()
    assert connector.grants_for("lee", "agent") == []
    assert connector.grants_for("max", "agent") == []
    assert len(connector.grants_for("kim", "agent")) == 1
    statuses = dict(Grant.objects.filter(pk__in=[g.pk for g in grants]).values_list("pk", "status"))
    assert statuses == {kim.pk: "active", lee.pk: "revoked", max_.pk: "revoked"}
    recorded = set(
        AdminAction.objects.filter(
            object_id=str(campaign.pk), object_type="governance.campaign"
        ).values_list("action", flat=True)
    )
    assert recorded == {
        "review_campaign.opened",
        "review_campaign.closing",
        "review_campaign.closed",
    }
    assert "governance.reviews.finish_closing[" in celery_worker.log()
