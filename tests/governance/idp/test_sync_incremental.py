"""Incremental syncs through the real runner against the scripted Graph peer: the first sync
reads every grant and keeps Graph's deltaLink, the next reads only what changed, an expired
state or a full sync reads everything again, and a failed sync keeps the old state."""

from __future__ import annotations

import pytest

from governance.access import secrets
from governance.connectors import IdpGrant
from governance.connectors.entra import EntraConnector
from governance.idp.models import IdpConnection, IdpSync
from governance.idp.sync import start_sync
from governance.platform import jobs
from inventory.models import Grant
from tests.peers.entra import EntraPeer

pytestmark = pytest.mark.django_db(transaction=True)
ISSUER = "https://login.microsoftonline.com/contoso-tenant/v2.0"


@pytest.fixture
def graph():
    server = EntraPeer().start()
    yield server
    server.stop()


@pytest.fixture
def entra(graph):
    return IdpConnection.objects.create(
        name="Contoso",
        kind="entra",
        config={**graph.config(), "issuer": ISSUER},
        secret_encrypted=secrets.encrypt(graph.secret),
    )


def sync_now(connection: IdpConnection, *, full: bool = False) -> IdpSync:
    sync = start_sync(connection=connection, full=full, enqueue=False)
    jobs.execute(IdpSync, sync.pk)
    sync.refresh_from_db()
    connection.refresh_from_db()
    return sync


def delta_calls(graph) -> list[str]:
    """The $deltatoken of each delta request ("" for a first round), in order."""
    return [
        r.query.get("$deltatoken", "")
        for r in graph.requests
        if r.path == "/v1.0/oauth2PermissionGrants/delta()" and "$skiptoken" not in r.query
    ]


def alive(external_id: str) -> bool:
    return Grant.objects.get(issuer=ISSUER, external_id=external_id).vanished_at is None


def test_the_first_sync_reads_every_grant_and_the_next_only_what_changed(graph, entra):
    first = sync_now(entra)

    assert first.status == "done", first.error_log
    assert first.summary["grants_read"] == "all"
    assert set(Grant.objects.filter(issuer=ISSUER).values_list("external_id", flat=True)) == {
        "g-alice",
        "g-tenant",
        "a-svc",
    }
    state = entra.sync_state["grants"]
    assert "$deltatoken=" in state

    EntraConnector(graph.config(), graph.secret).revoke(
        IdpGrant(idp_id="g-alice", subject="u-alice", client_id="app-agent")
    )
    graph.put_grant("g-new", "sp-svc", "u-bob", "Files.Read")
    graph.requests.clear()
    second = sync_now(entra)

    assert second.status == "done", second.error_log
    assert second.summary["grants_read"] == "changes"
    assert delta_calls(graph) == [state.rsplit("=", 1)[1]]
    assert not [r for r in graph.requests if r.path == "/v1.0/oauth2PermissionGrants"]
    # g-new is the one changed consent; the application permission is re-read (no delta)
    assert second.summary["grants"] == {
        "seen": 2,
        "created": 1,
        "changed": 0,
        "vanished": 1,
        "skipped": 0,
    }
    assert not alive("g-alice") and alive("g-new") and alive("g-tenant") and alive("a-svc")
    new = Grant.objects.get(issuer=ISSUER, external_id="g-new")
    assert new.client.client_id == "app-svc" and new.scopes == ["Files.Read"]
    assert entra.sync_state["grants"] != state


def test_an_application_permission_removed_between_incremental_syncs_vanishes(graph, entra):
    sync_now(entra)
    del graph.assignments["sp-graph"]["a-svc"]

    second = sync_now(entra)

    assert second.summary["grants_read"] == "changes"
    assert not alive("a-svc") and alive("g-alice") and alive("g-tenant")


def test_an_expired_state_makes_a_full_round_that_catches_what_no_change_reported(graph, entra):
    sync_now(entra)
    graph.grants.pop("g-tenant")  # gone without a trace in the delta log
    entra.sync_state = {"grants": f"{graph.graph_url}/oauth2PermissionGrants/delta()?$deltatoken=x"}
    entra.save()
    graph.requests.clear()

    sync = sync_now(entra)

    assert sync.status == "done", sync.error_log
    assert sync.summary["grants_read"] == "all: the stored state had expired"
    assert delta_calls(graph) == ["x", ""]
    assert not alive("g-tenant") and alive("g-alice")
    assert entra.sync_state["grants"].endswith(f"$deltatoken={graph.changes[-1][0]}")


def test_a_full_sync_ignores_the_stored_state(graph, entra):
    sync_now(entra)
    graph.grants.pop("g-tenant")
    graph.requests.clear()

    sync = sync_now(entra, full=True)

    assert sync.summary["grants_read"] == "all"
    assert delta_calls(graph) == [""]
    assert not alive("g-tenant")


def test_a_failed_sync_keeps_the_old_state_so_the_next_one_reads_the_same_changes(graph, entra):
    sync_now(entra)
    state = entra.sync_state["grants"]
    graph.put_grant("g-new", "sp-svc", "u-bob", "Files.Read")
    graph.roles.remove("User.Read.All")  # identities now fail: the sync is incomplete

    failed = sync_now(entra)

    assert failed.status != "done" and "identities" in failed.summary["failed"]
    assert entra.sync_state["grants"] == state
    graph.roles.append("User.Read.All")
    graph.requests.clear()
    again = sync_now(entra)

    assert again.status == "done", again.error_log
    assert delta_calls(graph) == [state.rsplit("=", 1)[1]]
    assert alive("g-new") and entra.sync_state["grants"] != state
