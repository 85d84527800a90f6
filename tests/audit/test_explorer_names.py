"""What did this identity do? The explorer takes names and e-mails, suggests as one types, has
quick ranges, draws its chart and top tools for its filters, and links every row's identity,
client and server to their pages; the identity page shows its last day of events by name."""

import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from django.urls import reverse

from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from inventory.models import Identity
from tests.ingest_helpers import iso, make_event
from tests.ui_factories import client, identity, server

pytestmark = pytest.mark.django_db
IDP = "https://idp.example.com"


def _event(*, who="00u-alice", client_id="https://agent.example.com/client.json", **kw):
    ago = kw.pop("ago", timedelta(minutes=5))
    return make_event(
        time=iso(datetime.now(UTC) - ago),
        actor={"id": who, "type": "human", "idp": IDP},
        client={"id": client_id},
        **kw,
    )


@pytest.fixture
def seen():
    """Alice (through Agent, on reports) and Bob (through Cursor, on crm), known to the
    inventory by name; one of Alice's calls two hours ago, one of Bob's denied."""
    alice = identity(
        "00u-alice", issuer=IDP, display_name="Alice Abbott", email="alice@acme.example"
    )
    bob = identity("00u-bob", issuer=IDP, display_name="Bob Bell", email="bob@acme.example")
    agent = client("https://agent.example.com/client.json", name="Agent Smith")
    cursor = client("https://cursor.example/mcp.json", name="Cursor")
    reports = server("io.github.acme/reports", title="Reports")
    crm = server("io.github.acme/crm", title="CRM")
    source, _ = create_source(name="gw-names")
    events = [
        _event(tool="export_report"),
        _event(tool="export_report"),
        _event(tool="list_reports", ago=timedelta(hours=2)),
        _event(
            who="00u-bob",
            client_id=cursor.client_id,
            server={"name": crm.name},
            tool="search_accounts",
            outcome="denied",
        ),
    ]
    ingest_events(source=source, events=events)
    return {"alice": alice, "bob": bob, "agent": agent, "cursor": cursor, "reports": reports}


def _tools_in_table(page: str) -> list[str]:
    body = page.split('id="event-rows"', 1)[1]
    return re.findall(r'<td title="[^"]*">([a-z_]+)</td><td title=', body)


def _figure(page: str) -> dict:
    raw = re.search(r'data-plotly-figure="([^"]*)"', page).group(1)
    return json.loads(unescape(raw))


@pytest.mark.parametrize(
    "typed", ["alice@acme.example", "ALICE@acme.example", "Alice Abbott", "00u-alice"]
)
def test_the_identity_filter_takes_an_e_mail_a_name_or_the_subject(viewer_client, seen, typed):
    page = viewer_client.get("/audit/", {"identity": typed}).content.decode()
    assert sorted(_tools_in_table(page)) == ["export_report", "export_report", "list_reports"]


def test_the_client_and_server_filters_take_their_names(viewer_client, seen):
    by_client = viewer_client.get("/audit/", {"client": "cursor"}).content.decode()
    assert _tools_in_table(by_client) == ["search_accounts"]
    by_title = viewer_client.get("/audit/", {"server": "Reports"}).content.decode()
    assert sorted(_tools_in_table(by_title)) == ["export_report", "export_report", "list_reports"]


def test_the_api_resolves_names_the_same_way(viewer_client, seen):
    rows = viewer_client.get("/api/v1/audit-events/", {"identity": "Bob Bell"}).json()["results"]
    assert [r["tool"] for r in rows] == ["search_accounts"]
    rows = viewer_client.get(
        "/api/v1/audit-events/", {"client": "Agent Smith", "range": "1h"}
    ).json()
    assert [r["tool"] for r in rows["results"]] == ["export_report", "export_report"]


def test_suggestions_offer_identities_clients_and_servers_by_part_of_a_name(viewer_client, seen):
    url = reverse("audit:event_suggest", args=["identity"])
    options = viewer_client.get(url, {"identity": "abb"}).content.decode()
    assert '<option value="alice@acme.example">Alice Abbott · alice@acme.example' in options
    assert "Bob" not in options
    clients = viewer_client.get(reverse("audit:event_suggest", args=["client"]), {"client": "urs"})
    assert '<option value="Cursor">' in clients.content.decode()
    servers = viewer_client.get(reverse("audit:event_suggest", args=["server"]), {"server": "rep"})
    assert '<option value="io.github.acme/reports">Reports</option>' in servers.content.decode()
    assert viewer_client.get(url, {"identity": "a"}).content.strip() == b""  # too short
    assert viewer_client.get("/audit/suggest/grant/", {"grant": "ab"}).status_code == 404


def test_the_filter_inputs_ask_for_suggestions_as_one_types(viewer_client, seen):
    page = viewer_client.get("/audit/").content.decode()
    for kind in ("identity", "client", "server"):
        assert f'list="{kind}-options"' in page and f'<datalist id="{kind}-options">' in page
        assert f'hx-get="/audit/suggest/{kind}/"' in page


def test_quick_ranges_keep_the_filters_and_narrow_the_time(viewer_client, seen):
    page = viewer_client.get("/audit/", {"identity": "Alice Abbott"}).content.decode()
    for key in ("1h", "24h", "7d", "30d"):
        assert f'href="?identity=Alice+Abbott&amp;range={key}"' in page
    last_hour = viewer_client.get("/audit/", {"identity": "Alice Abbott", "range": "1h"})
    assert _tools_in_table(last_hour.content.decode()) == ["export_report", "export_report"]


def test_an_unknown_range_is_a_400_naming_it(viewer_client, seen):
    response = viewer_client.get("/audit/", {"range": "2h"})
    assert response.status_code == 400 and "range: one of 1h, 24h, 7d, 30d" in response.text
    api = viewer_client.get("/api/v1/audit-events/", {"range": "week"})
    assert api.status_code == 400 and "range" in api.text


def test_the_chart_and_top_tools_follow_the_filters(viewer_client, seen):
    everyone = _figure(viewer_client.get("/audit/").content.decode())
    assert sum(everyone["data"][0]["y"]) == 4
    assert len(everyone["data"][0]["y"]) in (24, 25)  # every hour of the last day, quiet or not
    page = viewer_client.get("/audit/", {"identity": "Bob Bell"}).content.decode()
    assert sum(_figure(page)["data"][0]["y"]) == 1  # Bob's one call, not everyone's four
    top = page.split('id="top-tools"', 1)[1].split("</table>", 1)[0]
    assert "search_accounts" in top and "export_report" not in top


def test_the_chart_from_the_rollups_follows_a_tool_filter(viewer_client, seen):
    page = viewer_client.get("/audit/", {"tool": "export_report", "range": "7d"}).content.decode()
    assert sum(_figure(page)["data"][0]["y"]) == 2
    top = page.split('id="top-tools"', 1)[1].split("</table>", 1)[0]
    assert "export_report" in top and "list_reports" not in top


def test_rows_link_identities_clients_and_servers_to_their_pages(viewer_client, seen):
    page = viewer_client.get("/audit/", {"identity": "Bob Bell"}).content.decode()
    row = page.split('id="event-rows"', 1)[1]
    assert f'href="{reverse("inventory:identity_detail", args=[seen["bob"].pk])}"' in row
    assert f'href="{reverse("inventory:client_detail", args=[seen["cursor"].pk])}"' in row
    assert ">Bob Bell</a>" in row and ">Cursor</a>" in row and ">CRM</a>" in row
    assert ">00u-bob<" not in row  # the name, not the raw subject (kept in the title)


def test_an_actor_only_the_events_introduced_links_under_its_subject(viewer_client, seen):
    source, _ = create_source(name="gw-unknown")
    ingest_events(source=source, events=[_event(who="00u-stranger", client_id="c-unknown")])
    stranger = Identity.objects.get(issuer=IDP, subject="00u-stranger")  # derived at ingest
    row = viewer_client.get("/audit/", {"identity": "00u-stranger"}).content.decode()
    row = row.split('id="event-rows"', 1)[1]
    url = reverse("inventory:identity_detail", args=[stranger.pk])
    assert f'<a href="{url}" title="00u-stranger">00u-stranger</a>' in row


def test_names_for_a_page_of_rows_cost_one_query_whatever_the_rows(
    viewer_client, seen, django_assert_max_num_queries
):
    viewer_client.get("/audit/")  # warm the session and role lookups out of the count
    source, _ = create_source(name="gw-many")
    others = []
    for n in range(12):
        identity(f"00u-{n}", issuer=IDP, display_name=f"Person {n}")
        client(f"c-{n}", name=f"Client {n}")
        others.append(_event(who=f"00u-{n}", client_id=f"c-{n}", tool=f"tool_{n}"))
    ingest_events(source=source, events=others)
    with django_assert_max_num_queries(10):
        page = viewer_client.get("/audit/").content.decode()
    assert page.count("/inventory/identities/") >= 14


def test_the_identity_page_loads_its_last_day_of_activity(viewer_client, seen):
    alice = seen["alice"]
    page = viewer_client.get(reverse("inventory:identity_detail", args=[alice.pk])).text
    url = reverse("audit:identity_activity", args=[alice.pk])
    assert f'hx-get="{url}"' in page and f'href="{url}"' in page  # works without JS too
    fragment = viewer_client.get(url).content.decode()
    assert "3 events in the last 24 hours" in fragment
    assert ">Agent Smith</a>" in fragment and ">Reports</a>" in fragment  # names, not ids
    assert "https://agent.example.com/client.json</" not in fragment
    assert fragment.count("export_report") == 2 and "search_accounts" not in fragment
    assert "range=24h" in fragment and "identity=00u-alice" in fragment  # the explorer link


def test_the_activity_of_an_identity_without_events_says_so(viewer_client, seen):
    quiet = identity("00u-quiet", issuer=IDP, display_name="Quinn")
    fragment = viewer_client.get(reverse("audit:identity_activity", args=[quiet.pk])).text
    assert "0 events in the last 24 hours" in fragment
    assert viewer_client.get(reverse("audit:identity_activity", args=[99999])).status_code == 404
