"""The protocol features in the console and the API: the protocol panel of client and server
pages, the URL elicitation list, the list filters, the overview charts, and the Admin settings
(allowed elicitation origins, the minimum revision) recorded as admin actions."""

from __future__ import annotations

import pytest
from django.test import Client as HttpClient

from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from governance.access.models import AdminAction, SiteSetting
from inventory.models import Client, ElicitationOriginAllowance, Flag, Server
from tests.ingest_helpers import make_event

pytestmark = pytest.mark.django_db
CLIENT = "https://agent.example.com/client.json"
SERVER = "io.github.acme/reports"


def _initialize(caps, session="sess-1", negotiated="2025-11-25"):
    return make_event(
        method="initialize",
        session_id=session,
        attributes={
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": caps,
                "clientInfo": {"name": "acme-agent", "version": "3.2.1"},
            },
            "result": {
                "protocolVersion": negotiated,
                "capabilities": {"tools": {}, "extensions": {"com.acme/audit": {}}},
                "serverInfo": {"name": "reports", "version": "1.4.0"},
            },
        },
    )


def _elicitation(url, elicitation_id):
    return make_event(
        method="elicitation/create",
        attributes={"params": {"mode": "url", "elicitationId": elicitation_id, "url": url}},
    )


def _sampling():
    return make_event(
        method="sampling/createMessage",
        attributes={"params": {"tools": [{"name": "run_sql"}], "toolChoice": {"mode": "auto"}}},
    )


@pytest.fixture
def another_viewer(viewer):
    """A second browser, signed in as a Viewer (the `client` fixture is the Admin's here)."""
    browser = HttpClient()
    browser.force_login(viewer)
    return browser


@pytest.fixture
def traffic():
    source = create_source(name="gw-pages")[0]
    result = ingest_events(
        source=source,
        events=[
            _initialize({"sampling": {"tools": {}}, "elicitation": {"url": {}}}),
            _elicitation("https://login.partner.example/connect?token=s3cr3t", "e-1"),
            _sampling(),
        ],
    )
    assert result.accepted == 3
    return source


def test_the_client_and_server_pages_show_the_protocol_panel(viewer_client, traffic):
    client = Client.objects.get(client_id=CLIENT)
    server = Server.objects.get(name=SERVER)

    client_page = viewer_client.get(f"/inventory/clients/{client.pk}/").content.decode()
    server_page = viewer_client.get(f"/inventory/servers/{server.pk}/").content.decode()

    assert 'id="protocol"' in client_page and "acme-agent" in client_page
    assert "URL elicitation" in client_page and "sampling with tools" in client_page
    assert "https://login.partner.example" in client_page
    assert "2025-11-25" in server_page and "com.acme/audit" in server_page
    assert "run_sql" in server_page
    assert "s3cr3t" not in server_page + client_page


def test_the_elicitation_list_shows_origins_and_filters_them(viewer_client, traffic):
    page = viewer_client.get("/inventory/elicitations/?origin=https://login.partner.example")
    other = viewer_client.get("/inventory/elicitations/?origin=https://nowhere.example")
    bad = viewer_client.get("/inventory/elicitations/?via_error=maybe")

    assert page.status_code == 200 and "e-1" in page.content.decode()
    assert "e-1" not in other.content.decode()
    assert bad.status_code == 400 and "via_error" in bad.content.decode()


def test_list_filters_find_clients_accepting_url_elicitation_and_servers_sampling_with_tools(
    viewer_client, traffic
):
    accepting = viewer_client.get("/api/v1/clients/?url_elicitation=true").json()["results"]
    refusing = viewer_client.get("/api/v1/clients/?url_elicitation=false").json()["results"]
    sampling = viewer_client.get("/api/v1/servers/?samples_with_tools=true").json()["results"]
    page = viewer_client.get("/inventory/servers/?samples_with_tools=true").content.decode()
    bad = viewer_client.get("/api/v1/servers/?samples_with_tools=maybe")

    assert [c["client_id"] for c in accepting] == [CLIENT]
    assert CLIENT not in [c["client_id"] for c in refusing]
    assert [s["name"] for s in sampling] == [SERVER] and SERVER in page
    assert bad.status_code == 400 and "samples_with_tools" in bad.content.decode()


def test_the_api_carries_each_peers_protocol_and_the_elicitations(viewer_client, traffic):
    client = viewer_client.get("/api/v1/clients/?url_elicitation=true").json()["results"][0]
    server = viewer_client.get(f"/api/v1/servers/{Server.objects.get(name=SERVER).pk}/").json()
    elicitations = viewer_client.get("/api/v1/url-elicitations/").json()["results"]

    assert client["protocol"]["elicitation_url"] is True
    assert client["protocol"]["info_name"] == "acme-agent"
    assert server["protocol"]["extensions"] == ["com.acme/audit"]
    assert server["protocol"]["protocol_version"] == "2025-11-25"
    assert [(e["elicitation_id"], e["origin"]) for e in elicitations] == [
        ("e-1", "https://login.partner.example")
    ]
    assert "token" not in str(elicitations)


def test_the_overview_charts_negotiated_revisions_and_capability_adoption(viewer_client, traffic):
    html = viewer_client.get("/").content.decode()

    assert 'id="protocol-versions"' in html and 'id="capability-adoption"' in html
    assert "client: elicitation.url" in html and "2025-11-25" in html


def test_an_admin_allows_an_origin_and_its_elicitations_are_no_longer_foreign(
    admin_client_, another_viewer, traffic
):
    server = Server.objects.get(name=SERVER)
    assert Flag.objects.filter(kind="protocol.elicitation_foreign_origin").count() == 1

    denied = another_viewer.post(
        f"/inventory/servers/{server.pk}/elicitation-origins/", {"origin": "https://x.example"}
    )
    bad = admin_client_.post(
        f"/inventory/servers/{server.pk}/elicitation-origins/",
        {"origin": "https://user:pw@login.partner.example/path"},
        follow=True,
    )
    admin_client_.post(
        f"/inventory/servers/{server.pk}/elicitation-origins/",
        {"origin": "https://LOGIN.partner.example:443"},
    )
    ingest_events(source=traffic, events=[_elicitation("https://login.partner.example/x", "e-2")])

    assert denied.status_code == 403
    assert bad.status_code == 200 and "origin: must be an origin" in bad.content.decode()
    allowance = ElicitationOriginAllowance.objects.get(server=server)
    assert allowance.origin == "https://login.partner.example"
    action = AdminAction.objects.get(action="elicitation_origin.allowed")
    assert action.after == {"origin": "https://login.partner.example"}
    flag = Flag.objects.get(kind="protocol.elicitation_foreign_origin")
    assert flag.details["elicitation_id"] == "e-1"  # e-2 raised nothing

    admin_client_.post(f"/inventory/elicitation-origins/{allowance.pk}/delete/")
    assert not ElicitationOriginAllowance.objects.exists()
    assert AdminAction.objects.filter(action="elicitation_origin.removed").exists()


def test_an_admin_sets_the_minimum_revision_and_older_sessions_are_flagged(
    admin_client_, another_viewer, traffic
):
    assert (
        another_viewer.post("/inventory/protocol/minimum-revision/", {"revision": "x"}).status_code
        == 403
    )
    bad = admin_client_.post(
        "/inventory/protocol/minimum-revision/", {"revision": "1999-01-01"}, follow=True
    )
    admin_client_.post("/inventory/protocol/minimum-revision/", {"revision": "2025-06-18"})
    ingest_events(
        source=traffic,
        events=[_initialize({"roots": {}}, session="old-1", negotiated="2025-03-26")],
    )

    assert "revision: must be one of" in bad.content.decode()
    assert SiteSetting.objects.get(key="protocol.minimum_revision").value == "2025-06-18"
    action = AdminAction.objects.get(action="site_setting.updated")
    assert (action.before, action.after) == ({"value": ""}, {"value": "2025-06-18"})
    flag = Flag.objects.get(kind="protocol.old_revision")
    assert flag.dedup_key == "2025-03-26" and "old-1" in flag.summary
