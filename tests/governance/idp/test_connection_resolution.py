"""A connection answers for its issuers: its page counts and links the grants, identities and
recent audit events of each issuer, and the identity and grant pages name the connection."""

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from governance.idp import queries
from inventory.models import Grant, Identity
from tests.ingest_helpers import iso, make_event
from tests.ui_factories import small_inventory

pytestmark = pytest.mark.django_db

LIST = "/governance/idp/"


def actor(issuer: str, subject: str) -> dict:
    return {"id": subject, "type": "human", "idp": issuer}


@pytest.fixture
def resolved(okta_connection):
    """The small inventory's issuer answered for by the Okta connection, with audit events from
    it (three recent, one older than the window) and from another issuer."""
    inv = small_inventory()
    issuer = inv["grant"].issuer
    okta_connection.issuers.create(issuer=issuer)
    source, _ = create_source(name="gw-idp")
    old = datetime.now(UTC) - timedelta(days=queries.EVENT_DAYS + 1)
    events = [make_event(actor=actor(issuer, f"00u-{i}")) for i in range(3)]
    events.append(make_event(actor=actor(issuer, "00u-old"), time=iso(old)))
    events.append(make_event(actor=actor("https://other.example", "00u-x")))
    result = ingest_events(source=source, events=events)
    assert not getattr(result, "rejected", None)
    return okta_connection, issuer


@pytest.mark.parametrize("who", ["viewer_client", "auditor_client", "admin_client_"])
def test_every_role_sees_each_issuers_grants_identities_and_recent_events_linked(
    request, who, resolved
):
    connection, issuer = resolved
    page = request.getfixturevalue(who).get(f"{LIST}{connection.pk}/").content.decode()
    grants = Grant.objects.filter(issuer=issuer).count()
    identities = Identity.objects.filter(issuer=issuer).count()
    assert grants > 1 and identities > 1
    assert f"{grants} grants</a>" in page and f"{identities} identities</a>" in page
    assert f"3 events in {queries.EVENT_DAYS} days</a>" in page
    assert "/inventory/grants/?issuer=" in page and "/inventory/identities/?issuer=" in page
    assert "/audit/?issuer=" in page


def test_the_event_link_lists_exactly_the_events_it_counts(viewer_client, resolved):
    connection, issuer = resolved
    rows = queries.issuer_counts(connection, since=queries.events_since())
    row = next(r for r in rows if r.issuer == issuer)
    page = viewer_client.get(f"{LIST}{connection.pk}/").content.decode()
    start = page.index(f"/audit/?issuer={quote(issuer, safe='')}")
    link = page[start : page.index('"', start)].replace("&amp;", "&")
    explorer = viewer_client.get(link).content.decode()
    assert row.events == 3 and set(re.findall(r"00u-(\w+)", explorer)) == {"0", "1", "2"}


def test_the_identity_list_link_lists_exactly_the_issuers_identities(viewer_client, resolved):
    _, issuer = resolved
    Identity.objects.create(
        issuer="https://other.example",
        subject="00u-other",
        display_name="Olga Other",
        first_seen=datetime.now(UTC),
        last_seen=datetime.now(UTC),
    )
    page = viewer_client.get("/inventory/identities/", {"issuer": issuer}).content.decode()
    assert "Alice Abbott" in page and "Olga Other" not in page
    api = viewer_client.get("/api/v1/identities/", {"issuer": issuer}).json()
    assert {r["issuer"] for r in api["results"]} == {issuer}


def test_the_identity_and_grant_pages_name_the_connection_of_their_issuer(viewer_client, resolved):
    connection, issuer = resolved
    identity = Identity.objects.filter(issuer=issuer).first()
    grant = Grant.objects.filter(issuer=issuer).first()
    link = f'From IdP connection</dt><dd><a href="{LIST}{connection.pk}/">Acme Okta</a>'
    for url in (f"/inventory/identities/{identity.pk}/", f"/inventory/grants/{grant.pk}/"):
        assert link in viewer_client.get(url).content.decode(), url


def test_an_issuer_no_connection_answers_for_is_said_so(viewer_client):
    inv = small_inventory()
    page = viewer_client.get(f"/inventory/grants/{inv['grant'].pk}/").content.decode()
    assert "none answers for this issuer" in page and "From IdP connection" in page
