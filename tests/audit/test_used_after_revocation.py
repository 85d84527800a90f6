"""'Used after revocation' (issue 13 §3): events sent to POST /api/v1/events that use a revoked
grant, a killed client or a cut-off identity later than the cut plus the allowed clock skew
raise one high flag per object, linked to the revocation; earlier events raise nothing."""

from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from audit.services.sources import create_source
from governance.containment.models import Revocation
from governance.containment.used_after import revocation_for_flag
from inventory.models import Client, Flag, Grant, Identity
from tests.ingest_helpers import iso, make_event

pytestmark = pytest.mark.django_db(transaction=True)

KIND = "access.used_after_revocation"
IDP = "https://idp.example.com"
AGENT = "https://agent.example.com/client.json"
KILLED = "https://killed.example/client.json"
CUT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def after_cut(seconds: int) -> str:
    return iso(CUT + timedelta(seconds=seconds))


def post(live_server, token, events):
    response = httpx.post(
        f"{live_server.url}/api/v1/events",
        content=orjson.dumps(events),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == len(events), response.json()
    return response


def actor(subject: str) -> dict:
    return {"id": subject, "type": "human", "idp": IDP, "email": f"{subject}@example.com"}


@pytest.fixture
def token(db):
    return create_source(name="gw-after-revocation")[1]


@pytest.fixture
def marks(db):
    """A revoked grant (alice on the agent), a killed client and a cut-off identity (bob)."""
    seen = {"first_seen": CUT - timedelta(days=1), "last_seen": CUT - timedelta(days=1)}
    agent = Client.objects.create(client_id=AGENT, name="Agent", **seen)
    killed = Client.objects.create(client_id=KILLED, name="Killed", cut_off_at=CUT, **seen)
    alice = Identity.objects.create(issuer=IDP, subject="00u-alice", **seen)
    bob = Identity.objects.create(issuer=IDP, subject="00u-bob", cut_off_at=CUT, **seen)
    grant = Grant.objects.create(
        client=agent,
        subject=alice,
        issuer=IDP,
        external_id="g-revoked",
        status=Grant.Status.REVOKED,
        revoked_at=CUT,
        **seen,
    )
    return {"agent": agent, "killed": killed, "alice": alice, "bob": bob, "grant": grant}


def flag_on(obj) -> Flag:
    return Flag.objects.get(kind=KIND, object_type=obj._meta.label_lower, object_id=str(obj.pk))


def test_a_revoked_grant_used_after_the_cut_and_the_skew_raises_one_high_flag_per_grant(
    live_server, token, marks
):
    used = dict(actor=actor("00u-alice"), grant={"id": "g-revoked"})
    before = make_event(time=after_cut(-300), **used)
    within_skew = make_event(time=after_cut(30), **used)  # 60 s of skew allowed by default
    post(live_server, token, [before, within_skew])
    assert not Flag.objects.filter(kind=KIND).exists()

    first, second = make_event(time=after_cut(120), **used), make_event(time=after_cut(180), **used)
    post(live_server, token, [first])
    post(live_server, token, [second])

    flag = flag_on(marks["grant"])
    assert flag.severity == "high" and flag.resolved_at is None
    assert flag.details["event_ids"] == [first["id"], second["id"]]
    assert flag.details["uses"] == 2 and flag.times_raised == 2
    assert "g-revoked" in flag.summary and "revoked" in flag.summary
    assert Flag.objects.filter(kind=KIND).count() == 1  # alice and the agent are not cut off


def test_a_killed_client_and_a_cut_off_identity_are_flagged_only_past_the_skew(
    live_server, token, marks, settings
):
    settings.CONTAINMENT_CLOCK_SKEW_SECONDS = 10
    killed_early = make_event(time=after_cut(5), client={"id": KILLED})
    killed_late = make_event(time=after_cut(20), client={"id": KILLED})
    bob_late = make_event(time=after_cut(600), actor=actor("00u-bob"))
    post(live_server, token, [killed_early, killed_late, bob_late])

    assert flag_on(marks["killed"]).details["event_ids"] == [killed_late["id"]]
    assert flag_on(marks["bob"]).details["event_ids"] == [bob_late["id"]]
    assert flag_on(marks["killed"]).details["cut_at"].startswith(CUT.strftime("%Y-%m-%dT%H:%M"))


def test_an_event_naming_no_grant_uses_the_revoked_grant_of_its_client_and_subject_until_a_new_one_is_active(  # noqa: E501
    live_server, token, marks
):
    no_grant = make_event(time=after_cut(120), actor=actor("00u-alice"))
    post(live_server, token, [no_grant])
    assert flag_on(marks["grant"]).details["event_ids"] == [no_grant["id"]]

    Grant.objects.create(
        client=marks["agent"],
        subject=marks["alice"],
        issuer=IDP,
        external_id="g-reconsented",
        first_seen=CUT,
        last_seen=CUT,
    )
    post(live_server, token, [make_event(time=after_cut(240), actor=actor("00u-alice"))])
    assert flag_on(marks["grant"]).details["uses"] == 1


def test_the_flag_links_to_the_revocation_that_made_the_mark(
    live_server, token, marks, admin_client_
):
    kill = Revocation.objects.create(
        action=Revocation.Action.CLIENT,
        target_key=f"client:{marks['killed'].pk}",
        reason="leaked credentials",
        client=marks["killed"],
        queued_at=CUT - timedelta(seconds=2),
    )
    post(live_server, token, [make_event(time=after_cut(300), client={"id": KILLED})])
    flag = flag_on(marks["killed"])
    assert revocation_for_flag(flag) == kill.pk
    page = admin_client_.get(f"/inventory/clients/{marks['killed'].pk}/")
    assert page.status_code == 200
    assert f"revocation #{kill.pk}" in page.content.decode()


def test_nothing_revoked_raises_nothing(live_server, token, db):
    post(live_server, token, [make_event(time=after_cut(100)), make_event(grant={"id": "g-x"})])
    assert not Flag.objects.filter(kind=KIND).exists()


def test_a_grant_flag_finds_the_bulk_or_identity_and_client_revocation_that_revoked_it(marks):
    grant = marks["grant"]
    bulk = Revocation.objects.create(
        action=Revocation.Action.BULK,
        target_key="bulk:abc",
        reason="unused 90 days",
        grant_ids=[grant.pk, grant.pk + 1],
        queued_at=CUT - timedelta(minutes=5),
    )
    flag = Flag.objects.create(
        kind=KIND,
        object_type="inventory.grant",
        object_id=str(grant.pk),
        summary="used",
        details={"revocation": None, "cut_at": CUT.isoformat().replace("+00:00", "Z")},
        raised_at=CUT,
        last_raised_at=CUT,
    )
    assert revocation_for_flag(flag) == bulk.pk
    pair = Revocation.objects.create(
        action=Revocation.Action.IDENTITY_CLIENT,
        target_key=f"identity:{marks['alice'].pk}:client:{marks['agent'].pk}",
        reason="offboarding",
        identity=marks["alice"],
        client=marks["agent"],
        queued_at=CUT - timedelta(seconds=1),
    )
    assert revocation_for_flag(flag) == pair.pk  # the latest one queued before the mark
    Revocation.objects.filter(pk=pair.pk).update(queued_at=CUT + timedelta(minutes=1))
    assert revocation_for_flag(flag) == bulk.pk  # one queued after the mark did not make it
