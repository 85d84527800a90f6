"""Which agent can act as whom, where, with what (question a), and what is still running and who
started it (question c): an identity's agents grouped per client with their servers and scopes,
grants searchable by scope pattern on the page and the API, and the overview's running and
past-TTL tasks by who started them, each within two clicks of the overview."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from inventory.models import Identity
from tests.ui_factories import client, grant, identity, server, task

pytestmark = pytest.mark.django_db
HOUR_MS = 3_600_000


@pytest.fixture
def agents():
    """Alice's grants through Cursor (billing and crm) and Claude (crm, revoked); her sponsored
    agent identity holds a grant through the ETL client."""
    alice = identity("00u-alice", display_name="Alice Abbott")
    triage = identity("agent-triage", display_name="agent: triage", kind="agent")
    Identity.objects.filter(pk=triage.pk).update(sponsor=alice)
    cursor = client("https://cursor.example/mcp.json", name="Cursor")
    claude = client("https://claude.example/client.json", name="Claude")
    etl = client("svc-etl", name="ETL loader")
    billing, crm = server("io.github.acme/billing"), server("io.github.acme/crm")
    grant("g-1", client=cursor, subject=alice, server=billing, scopes=["billing:admin"])
    grant("g-2", client=cursor, subject=alice, server=crm, scopes=["crm:read", "crm_write"])
    grant(
        "g-3",
        client=claude,
        subject=alice,
        server=crm,
        scopes=["crm:read"],
        status="revoked",
        revoked_at=timezone.now(),
    )
    grant("g-4", client=etl, subject=triage, server=billing, scopes=["billing:read"])
    return {"alice": alice, "triage": triage, "cursor": cursor, "claude": claude, "etl": etl}


def _section(page: str, start: str, end: str) -> str:
    return page.split(start, 1)[1].split(end, 1)[0]


def test_an_identity_page_groups_its_agents_with_their_servers_and_scopes(viewer_client, agents):
    page = viewer_client.get(reverse("inventory:identity_detail", args=[agents["alice"].pk])).text
    section = _section(page, 'id="agents"', 'id="answered-for"')
    assert "(2 agents, 3 grants, 2 active)" in section
    cursor_block, claude_block = section.split('class="agent-group')[1:3]  # live agent first
    assert (
        f'href="{reverse("inventory:client_detail", args=[agents["cursor"].pk])}"' in cursor_block
    )
    assert "2 active of 2 grants" in cursor_block
    servers = _section(cursor_block, "<dt>Servers</dt>", "</dd>")
    assert ">io.github.acme/billing</a>" in servers and ">io.github.acme/crm</a>" in servers
    for scope in ("billing:admin", "crm:read", "crm_write"):
        assert f"<code>{scope}</code>" in cursor_block
    assert "0 active of 1 grant" in claude_block and "Claude" in claude_block
    # Each agent links its grants for this person, and each scope who else holds it.
    assert f"?client={agents['cursor'].pk}&amp;subject={agents['alice'].pk}" in cursor_block
    assert 'href="/inventory/grants/?scope=billing%3Aadmin"' in cursor_block


def test_the_agent_identities_a_person_sponsors_show_their_own_agents(viewer_client, agents):
    page = viewer_client.get(reverse("inventory:identity_detail", args=[agents["alice"].pk])).text
    section = _section(page, 'id="answered-for"', "<h2>Clients")
    assert "agent: triage" in section and "sponsor" in section
    assert "ETL loader" in section and "billing:read" in section
    assert f'href="{reverse("inventory:client_detail", args=[agents["etl"].pk])}"' in section


def test_an_identity_page_costs_the_same_queries_for_many_agents(
    viewer_client, agents, django_assert_max_num_queries
):
    url = reverse("inventory:identity_detail", args=[agents["alice"].pk])
    viewer_client.get(url)  # warm the session and role lookups out of the count
    with django_assert_max_num_queries(14) as few:
        viewer_client.get(url)
    for n in range(10):
        more = client(f"https://agent-{n}.example/client.json", name=f"Agent {n}")
        grant(f"g-more-{n}", client=more, subject=agents["alice"], scopes=[f"s:{n}"])
        grant(f"g-sponsored-{n}", client=more, subject=agents["triage"], scopes=["x"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = viewer_client.get(url).text
    assert "(12 agents, 13 grants, 12 active)" in page


def _external_ids(response) -> set[str]:
    return set(re.findall(r'title="(g-[0-9])"', response.text))


@pytest.mark.parametrize(
    "scope, expected",
    [
        ("crm:read", {"g-2", "g-3"}),  # exact, on the GIN index
        ("billing:*", {"g-1", "g-4"}),  # a prefix
        ("*:read", {"g-2", "g-3", "g-4"}),  # a suffix
        ("*admin*", {"g-1"}),  # contains
        ("crm_*", {"g-2"}),  # `_` is a character here, not SQL's any-one
        ("crm%", set()),  # and `%` too
    ],
)
def test_grants_are_searchable_by_scope_on_the_page_and_the_api(
    viewer_client, agents, scope, expected
):
    page = viewer_client.get("/inventory/grants/", {"scope": scope})
    assert page.status_code == 200 and _external_ids(page) == expected
    api = viewer_client.get("/api/v1/grants/", {"scope": scope}).json()["results"]
    assert {row["external_id"] for row in api} == expected


@pytest.fixture
def started():
    """Tasks started by Alice through Cursor: two running, one past its TTL; one of Bob's
    running through no known client; a completed one that counts nowhere."""
    now, crm = timezone.now(), server("io.github.acme/crm")
    alice = identity("00u-alice", display_name="Alice Abbott")
    bob = identity("00u-bob", display_name="Bob Bell")
    cursor = client("https://cursor.example/mcp.json", name="Cursor")
    live = {"at": now - timedelta(minutes=5), "ttl_ms": HOUR_MS}
    task("t-1", server=crm, client=cursor, identity=alice, **live)
    task("t-2", server=crm, client=cursor, identity=alice, **live)
    task(
        "t-3", server=crm, client=cursor, identity=alice, at=now - timedelta(hours=3), ttl_ms=60_000
    )
    task("t-4", server=crm, identity=bob, **live)
    task("t-5", server=crm, client=cursor, identity=bob, status="completed", **live)
    return {"alice": alice, "bob": bob, "cursor": cursor}


def test_the_overview_counts_running_and_past_ttl_tasks_apart_with_who_started_them(
    viewer_client, started
):
    page = viewer_client.get("/").text
    assert '<span class="n">3</span>Running tasks' in page
    assert '<span class="n">1</span>Tasks past their TTL' in page
    panel = _section(page, 'id="task-starters"', "</section>")
    alice, bob, cursor = started["alice"], started["bob"], started["cursor"]
    rows = panel.split("<tr>")[2:]
    assert "Alice Abbott" in rows[0] and "Cursor" in rows[0]  # the most tasks first
    assert f'?running=true&amp;identity={alice.pk}&amp;client={cursor.pk}">2</a>' in rows[0]
    assert f'?expired=true&amp;identity={alice.pk}&amp;client={cursor.pk}">1</a>' in rows[0]
    assert "Bob Bell" in rows[1] and "unknown" in rows[1]  # started through no known client
    assert f'?running=true&amp;identity={bob.pk}">1</a>' in rows[1]
    assert len(rows) == 2  # the completed task counts nowhere


def test_the_overview_links_reach_the_tasks_with_who_started_them(viewer_client, started):
    alice, cursor = started["alice"], started["cursor"]
    running = viewer_client.get(
        "/inventory/tasks/", {"running": "true", "identity": alice.pk, "client": cursor.pk}
    ).text
    assert "t-1" in running and "t-2" in running and "t-3" not in running
    assert "Alice Abbott</a>" in running and "Cursor</a>" in running  # who started them
    past = viewer_client.get("/inventory/tasks/", {"expired": "true"}).text
    assert "t-3" in past and "t-1" not in past and "expired · was working" in past


def test_the_task_list_filters_say_what_running_and_past_ttl_mean(viewer_client, started):
    page = viewer_client.get("/inventory/tasks/").text
    assert "Running (within its TTL)" in page and "Past its TTL" in page
