"""The ledger's set-based writes for identities and clients (the `oauth` kind lists neither, so
they are driven here directly and through a connector kind that lists from memory)."""

from __future__ import annotations

import pytest
from django.utils import timezone

from governance.access import secrets
from governance.connectors import Connector, IdpClient, IdpGrant, IdpIdentity, registry
from governance.idp.models import IdpConnection, IdpSync
from governance.idp.sync import start_sync
from governance.platform import jobs
from inventory.models import Client, Grant, Identity
from inventory.services import ledger

ISSUER = "https://idp.example"


def person(subject, **values):
    return (
        {"subject": subject, "display_name": subject.title(), "email": f"{subject}@ex.com"}
        | {
            "kind": "",
            "status": "active",
        }
        | values
    )


@pytest.mark.django_db
def test_identities_are_created_then_left_alone_then_changed():
    now = timezone.now()
    first = ledger.upsert_identities(issuer=ISSUER, rows=[person("ann"), person("bob")], at=now)
    same = ledger.upsert_identities(issuer=ISSUER, rows=[person("ann"), person("bob")], at=now)
    moved = ledger.upsert_identities(
        issuer=ISSUER, rows=[person("ann", email="ann@new.com"), person("bob")], at=now
    )

    assert (first.created, first.changed) == (2, 0)
    assert (same.created, same.changed) == (0, 0)
    assert (moved.created, moved.changed) == (0, 1)
    assert Identity.objects.get(subject="ann").email == "ann@new.com"
    assert Identity.objects.get(subject="bob").kind == "human"  # new, kind not said


@pytest.mark.django_db
def test_an_identity_whose_kind_the_idp_does_not_say_keeps_the_kind_it_had():
    now = timezone.now()
    Identity.objects.create(
        issuer=ISSUER, subject="bot", kind="agent", first_seen=now, last_seen=now
    )

    ledger.upsert_identities(issuer=ISSUER, rows=[person("bot")], at=now)
    ledger.upsert_identities(issuer=ISSUER, rows=[person("svc", kind="service")], at=now)

    assert Identity.objects.get(subject="bot").kind == "agent"
    assert Identity.objects.get(subject="svc").kind == "service"


@pytest.mark.django_db
def test_manager_sponsor_and_owner_links_resolve_by_subject():
    now = timezone.now()
    ledger.upsert_identities(issuer=ISSUER, rows=[person("agent-1"), person("ann")], at=now)
    ledger.upsert_identities(issuer=ISSUER, rows=[person("boss")], at=now)  # a later page

    linked = ledger.link_identities(
        issuer=ISSUER, links=[("agent-1", "", "ann", "ann"), ("ann", "boss", "", "")]
    )

    agent, ann = Identity.objects.get(subject="agent-1"), Identity.objects.get(subject="ann")
    assert linked == 2
    assert (agent.sponsor, agent.owner, ann.manager.subject) == (ann, ann, "boss")
    assert ledger.link_identities(issuer=ISSUER, links=[("ann", "boss", "", "")]) == 0


@pytest.mark.django_db
def test_clients_match_inventory_clients_by_client_id_and_keep_their_review():
    now = timezone.now()
    Client.objects.create(
        client_id="https://agent.example/cimd.json",
        registration="cimd",
        review_status="approved",
        first_seen=now,
        last_seen=now,
    )

    counts = ledger.upsert_clients(
        issuer=ISSUER,
        rows=[
            {"client_id": "https://agent.example/cimd.json", "name": "Agent"},
            {"client_id": "0oa-new", "name": "New app"},
        ],
        at=now,
    )

    known = Client.objects.get(client_id="https://agent.example/cimd.json")
    assert (counts.created, counts.changed) == (1, 1)
    assert (known.name, known.registration, known.review_status) == ("Agent", "cimd", "approved")
    assert Client.objects.get(client_id="0oa-new").issuer == ISSUER


class MemoryConnector(Connector):
    """A kind that lists from memory: the sync's identity and client paths, end to end."""

    kind = "okta"
    capabilities = frozenset({"list_identities", "list_clients", "list_grants"})

    def verify(self):
        return []

    def list_identities(self):
        yield IdpIdentity("1", "agent-7", kind="agent", sponsor="ann", owner="ann")
        yield IdpIdentity("2", "ann", display_name="Ann", email="ann@ex.com", manager="boss")
        yield IdpIdentity("3", "boss", display_name="Boss")
        yield IdpIdentity("4", "")  # malformed: no subject

    def list_clients(self):
        yield IdpClient("c1", "agent-app", name="Agent app")

    def list_grants(self):
        yield IdpGrant("g1", "ann", "agent-app", ("mcp:tools",), grant_type="consent")
        yield IdpGrant("g2", "", "agent-app", ("billing:read",))  # the client's own permission


@pytest.mark.django_db(transaction=True)
def test_a_sync_brings_identities_with_their_links_clients_and_grants(monkeypatch):
    monkeypatch.setitem(registry.KINDS, "okta", MemoryConnector)
    connection = IdpConnection.objects.create(
        name="mem",
        kind="okta",
        config={"issuer": ISSUER},
        secret_encrypted=secrets.encrypt("k"),
    )
    sync = start_sync(connection=connection, enqueue=False)

    jobs.execute(IdpSync, sync.pk)

    sync.refresh_from_db()
    assert sync.status == "done", sync.error_log
    assert sync.skipped == 1 and "no subject" in sync.error_log[0]["message"]
    assert sync.summary["identities"]["created"] == 3
    agent = Identity.objects.get(issuer=ISSUER, subject="agent-7")
    assert (agent.kind, agent.sponsor.subject, agent.owner.subject) == ("agent", "ann", "ann")
    assert Identity.objects.get(subject="ann").manager.subject == "boss"
    assert Client.objects.get(client_id="agent-app").name == "Agent app"
    own = Grant.objects.get(external_id="g2")
    assert own.subject is None and own.grant_type == "application_permission"
    assert Grant.objects.get(external_id="g1").subject.subject == "ann"
