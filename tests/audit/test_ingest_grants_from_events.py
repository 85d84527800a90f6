"""Grants the ledger lacks, created from the events that show them: token exchange and ID-JAG
delegations, client-credentials calls; idempotent on retry; last use keeps coming from events."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from audit.services.ingest import JSON_MAX_ROWS, ingest_events
from audit.services.sources import create_source
from inventory.models import Client, Grant, Identity
from tests.ingest_helpers import iso, make_event

pytestmark = pytest.mark.django_db
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
IDP = "https://idp.example.com"
AGENT = "https://agent.example.com/client.json"
SERVER = "io.github.acme/reports"


def at(seconds: int) -> str:
    return iso(T0 + timedelta(seconds=seconds))


def event_key(client: str, issuer: str, subject: str, server: str) -> str:
    """The documented key of a grant seen only in events (docs/ingest.md)."""
    text = "\n".join((client, issuer, subject, server))
    return "event:" + hashlib.sha256(text.encode()).hexdigest()


def exchange(seconds: int, **overrides) -> dict:
    """Alice's agent calling a server with a token it got by token exchange (RFC 8693)."""
    grant = {"type": "urn:ietf:params:oauth:grant-type:token-exchange", "scopes": ["reports:read"]}
    fields = {"delegation": [{"id": AGENT, "type": "client"}], "grant": grant, **overrides}
    return make_event(time=at(seconds), **fields)


def m2m(seconds: int, client: str = "billing-bot", **overrides) -> dict:
    """A client-credentials call: a client id and no user."""
    return make_event(
        time=at(seconds), actor=None, client={"id": client, "name": "Billing"}, **overrides
    )


@pytest.fixture
def source():
    return create_source(name="gw-grants")[0]


def test_a_token_exchange_event_creates_the_delegated_grant_it_shows(source):
    ingest_events(source=source, events=[exchange(10), exchange(40)])
    grant = Grant.objects.select_related("subject", "client", "server").get()
    assert grant.grant_type == Grant.GrantType.TOKEN_EXCHANGE
    assert (grant.subject.issuer, grant.subject.subject) == (IDP, "00u-alice")
    assert grant.client.client_id == AGENT and grant.server.name == SERVER
    assert grant.resource == "https://mcp.acme.example/mcp"
    assert grant.scopes == ["reports:read"] and grant.status == Grant.Status.ACTIVE
    assert grant.issuer == IDP and grant.seen_from == "events"
    assert grant.external_id == event_key(AGENT, IDP, "00u-alice", SERVER)
    assert grant.first_seen == T0 + timedelta(seconds=10)
    assert grant.last_used_at == grant.last_seen == T0 + timedelta(seconds=40)


def test_an_id_jag_event_creates_a_jwt_bearer_grant_with_its_expiry_and_latest_scopes(source):
    id_jag = {"type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "issuer": "https://as.acme"}
    ingest_events(
        source=source,
        events=[
            make_event(time=at(5), grant={**id_jag, "scopes": ["a"]}),
            make_event(
                time=at(9),
                grant={**id_jag, "scopes": ["a", "b"], "expires_at": iso(T0 + timedelta(hours=2))},
            ),
        ],
    )
    grant = Grant.objects.get()
    assert grant.grant_type == Grant.GrantType.JWT_BEARER and grant.issuer == "https://as.acme"
    assert grant.scopes == ["a", "b"]
    assert grant.expires_at == T0 + timedelta(hours=2)


def test_a_client_credentials_call_creates_a_service_identity_and_an_m2m_grant(source):
    ingest_events(source=source, events=[m2m(10), m2m(20)])
    service = Identity.objects.get(subject="billing-bot")
    assert service.kind == Identity.Kind.SERVICE
    grant = Grant.objects.select_related("client").get()
    assert grant.grant_type == Grant.GrantType.CLIENT_CREDENTIALS
    assert grant.subject is None and grant.client.client_id == "billing-bot"
    assert grant.external_id == event_key("billing-bot", "", "", SERVER)
    assert grant.last_used_at == T0 + timedelta(seconds=20)


def test_grants_from_events_are_idempotent_on_retry_and_later_batches_only_move_last_use(source):
    first = [exchange(10, id="evt-x1"), m2m(11, id="evt-m1")]
    ingest_events(source=source, events=first)
    ingest_events(source=source, events=first)  # a retry: duplicates, nothing new
    assert Grant.objects.count() == 2
    ingest_events(source=source, events=[exchange(500), m2m(600), exchange(1)])
    assert Grant.objects.count() == 2
    delegated = Grant.objects.get(grant_type=Grant.GrantType.TOKEN_EXCHANGE)
    assert delegated.first_seen == T0 + timedelta(seconds=10)  # insert-only fields stay
    assert delegated.last_used_at == T0 + timedelta(seconds=500)
    machine = Grant.objects.get(grant_type=Grant.GrantType.CLIENT_CREDENTIALS)
    assert machine.last_used_at == T0 + timedelta(seconds=600)


def test_an_event_grants_last_use_is_kept_to_the_minute_so_busy_grants_are_not_rewritten(source):
    ingest_events(source=source, events=[m2m(10)])
    ingest_events(source=source, events=[m2m(50)])  # within the minute: no write
    assert Grant.objects.get().last_used_at == T0 + timedelta(seconds=10)
    ingest_events(source=source, events=[m2m(75)])
    assert Grant.objects.get().last_used_at == T0 + timedelta(seconds=75)


def test_a_large_batch_through_the_copy_path_creates_one_grant_per_client(source):
    events = [m2m(i, client=f"bot-{i % 3}") for i in range(JSON_MAX_ROWS + 10)]
    ingest_events(source=source, events=events)
    assert sorted(Grant.objects.values_list("client__client_id", flat=True)) == [
        "bot-0",
        "bot-1",
        "bot-2",
    ]


def test_an_event_naming_a_synced_grant_moves_its_last_use_and_changes_nothing_else(source):
    client = Client.objects.create(client_id=AGENT, first_seen=T0, last_seen=T0)
    synced = Grant.objects.create(
        client=client,
        issuer=IDP,
        external_id="okta-grant-1",
        scopes=["reports:read", "reports:write"],
        grant_type=Grant.GrantType.REFRESH_TOKEN,
        seen_from="idp",
        first_seen=T0,
        last_seen=T0,
    )
    ingest_events(
        source=source, events=[exchange(30, grant={"id": "okta-grant-1", "type": "token_exchange"})]
    )
    synced.refresh_from_db()
    assert Grant.objects.count() == 1
    assert synced.last_used_at == T0 + timedelta(seconds=30)
    assert synced.scopes == ["reports:read", "reports:write"] and synced.seen_from == "idp"
    assert synced.grant_type == Grant.GrantType.REFRESH_TOKEN


def test_a_grant_id_with_no_issuer_resolves_to_the_synced_grant_not_a_second_row(source):
    client = Client.objects.create(client_id="billing-bot", first_seen=T0, last_seen=T0)
    Grant.objects.create(
        client=client,
        issuer="https://auth0.example",
        external_id="cgr_1",
        first_seen=T0,
        last_seen=T0,
    )
    ingest_events(source=source, events=[m2m(40, grant={"id": "cgr_1"})])
    grant = Grant.objects.get()
    assert grant.issuer == "https://auth0.example"
    assert grant.last_used_at == T0 + timedelta(seconds=40)


def test_an_ordinary_user_call_with_an_unknown_grant_id_creates_no_grant(source):
    ingest_events(source=source, events=[make_event(time=at(5), grant={"id": "unknown-1"})])
    assert not Grant.objects.exists()


def test_a_delegation_naming_no_client_is_the_chains_outermost_actor_when_it_is_known(source):
    Client.objects.create(client_id="known-agent", first_seen=T0, last_seen=T0)
    ingest_events(
        source=source,
        events=[
            exchange(5, client=None, delegation=[{"id": "https://nobody.example/agent"}]),
            exchange(6, client=None, delegation=[{"id": "known-agent"}, {"id": "other"}]),
        ],
    )
    assert Grant.objects.get().client.client_id == "known-agent"


def test_an_empty_delegation_chain_or_an_unknown_grant_type_shows_no_grant(source):
    ingest_events(
        source=source,
        events=[
            make_event(time=at(5), delegation=[]),
            make_event(time=at(6), grant={"type": "authorization_code", "scopes": ["a"]}),
        ],
    )
    assert not Grant.objects.exists()


def test_an_event_the_python_path_checks_creates_the_same_grant_as_the_fast_path(source):
    # A possible secret sends the event through the Python checks and redaction.
    with_secret = exchange(20, attributes={"headers": {"Authorization": "Bearer abc.def.ghi"}})
    ingest_events(source=source, events=[with_secret])
    grant = Grant.objects.get()
    assert grant.external_id == event_key(AGENT, IDP, "00u-alice", SERVER)
    assert grant.scopes == ["reports:read"] and grant.grant_type == Grant.GrantType.TOKEN_EXCHANGE
