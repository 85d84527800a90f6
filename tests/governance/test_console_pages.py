"""Console pages as a user reads them (issue #17 §3): titles, navigation, empty states, the block
confirmation, disabled identities, JSON payloads, plurals, and wide tables at 1,400 px."""

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import httpx
import pytest
from django.contrib.messages import get_messages
from django.template.loader import render_to_string
from django.urls import reverse

from audit.models import AuditEvent
from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from governance.access.models import AdminAction
from inventory.models import Registry
from inventory.templatetags.console import compact_time, pretty_json
from tests.browser.chromium import playwright_and_chromium
from tests.governance.test_csp import _every_page, _objects
from tests.ingest_helpers import make_event
from tests.ui_factories import grant, identity, server, small_inventory

pytestmark = pytest.mark.django_db

FALLBACK_TITLE = "MCP Governance Console"
DISCOVERY_PAGES = (
    "inventory:crawl_list",
    "inventory:client_document_list",
    "inventory:authorization_server_list",
    "inventory:fetch_record_list",
)


def _title(html: str) -> str:
    return unescape(re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip())


def test_every_console_page_names_itself_in_the_browser_tab(admin_client_):
    pks = _objects()
    untitled, checked = [], 0
    for name, url in _every_page(pks):
        response = admin_client_.get(url)
        if response.status_code != 200 or response.streaming or b"<html" not in response.content:
            continue  # fragments, downloads, POST-only views
        checked += 1
        if _title(response.content.decode()) == FALLBACK_TITLE:
            untitled.append(name)
    assert checked > 20  # the walk reached the pages, not only redirects or errors
    assert untitled == []


@pytest.mark.parametrize("who", ["viewer_client", "auditor_client", "admin_client_"])
def test_every_discovery_page_and_the_findings_page_are_reachable_from_the_menus(request, who):
    browser = request.getfixturevalue(who)
    targets = [reverse(name) for name in DISCOVERY_PAGES]
    # From the Discovery page (the menu's entry) every page of the section is linked ...
    discovery = browser.get(reverse("inventory:crawl_list")).content.decode()
    for url in targets:
        assert f'href="{url}"' in discovery, url
    # ... and findings (what flags became, with triage) from any page's top bar.
    assert f'href="{reverse("findings:finding_list")}"' in browser.get("/").content.decode()
    # The old flags list (bookmarks, scripts) still answers.
    for url in [
        *targets,
        reverse("findings:finding_list"),
        reverse("inventory:flag_list"),
    ]:  # each link leads to a page this role may read
        assert browser.get(url).status_code == 200, url


def test_revocations_and_url_elicitations_are_reachable_from_the_menu_and_the_servers_list(
    viewer_client,
):
    top_bar = viewer_client.get("/").content.decode()
    assert f'href="{reverse("containment:revocation_list")}"' in top_bar
    servers = viewer_client.get(reverse("inventory:server_list")).content.decode()
    elicitations = reverse("inventory:url_elicitation_list")
    assert f'href="{elicitations}"' in servers
    assert viewer_client.get(elicitations).status_code == 200


def test_remotes_not_yet_discovered_are_not_announced_as_an_empty_table(viewer_client):
    small_inventory()  # a server with an HTTP remote and no protected resource metadata yet
    page = viewer_client.get(reverse("inventory:authorization_server_list")).content.decode()
    assert "https://mcp.acme.example/crm/mcp" in page and "not discovered yet" in page
    assert "No protected resource metadata discovered yet" not in page


def test_the_protected_resources_empty_state_shows_when_there_is_nothing_at_all(viewer_client):
    page = viewer_client.get(reverse("inventory:authorization_server_list")).content.decode()
    assert "No protected resource metadata discovered yet" in page


def test_blocking_a_client_asks_first_and_says_what_stays_active(admin_client_):
    inv = small_inventory()
    url = reverse("inventory:client_review", args=[inv["cursor"].pk])
    grants = inv["cursor"].grants.active().count()
    tasks = inv["cursor"].tasks.running().count()
    ask = admin_client_.post(url, {"status": "blocked"})
    assert ask.status_code == 200
    text = " ".join(unescape(ask.content.decode()).split())
    assert f"{grants} active grant" in text and f"{tasks} running task" in text
    assert "revokes nothing" in text and "kill switch" in text
    assert 'name="confirm" value="1"' in text
    inv["cursor"].refresh_from_db()
    assert inv["cursor"].review_status == "unreviewed" and not AdminAction.objects.exists()

    done = admin_client_.post(url, {"status": "blocked", "confirm": "1"})
    assert done.status_code == 302
    message = [str(m) for m in get_messages(done.wsgi_request)][0]
    assert "Nothing was revoked" in message and f"{grants} active grant" in message
    assert f"{tasks} running task" in message
    inv["cursor"].refresh_from_db()
    assert inv["cursor"].review_status == "blocked"
    assert AdminAction.objects.get(action="client.review_status_changed").after == {
        "review_status": "blocked"
    }


def test_blocking_with_htmx_swaps_in_the_confirmation_then_the_plain_answer(admin_client_):
    inv = small_inventory()
    url = reverse("inventory:server_review", args=[inv["crm"].pk])
    ask = admin_client_.post(url, {"status": "blocked"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'id="review-status"' in ask and "<html" not in ask and "kill switch" in ask
    inv["crm"].refresh_from_db()
    assert inv["crm"].review_status == "unreviewed"
    done = admin_client_.post(
        url, {"status": "blocked", "confirm": "1"}, HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Nothing was revoked" in done and "<html" not in done


def test_approving_needs_no_confirmation(admin_client_):
    inv = small_inventory()
    url = reverse("inventory:client_review", args=[inv["cursor"].pk])
    assert admin_client_.post(url, {"status": "approved"}).status_code == 302
    inv["cursor"].refresh_from_db()
    assert inv["cursor"].review_status == "approved"


def test_a_disabled_identity_with_active_grants_is_called_out(viewer_client):
    inv = small_inventory()
    carol = identity("00u-carol", display_name="Carol", status="disabled")
    grant(
        "g-carol",
        client=inv["cursor"],
        subject=carol,
        server=inv["crm"],
        status="active",
        expires_at=datetime.now(UTC) + timedelta(days=3),
    )
    page = viewer_client.get(reverse("inventory:identity_detail", args=[carol.pk])).content
    assert b'class="badge b-disabled"' in page
    assert b"Disabled at the IdP but still holds 1 active grant" in page


def test_a_disabled_identity_without_active_grants_gets_no_warning(viewer_client):
    carol = identity("00u-carol", display_name="Carol", status="disabled")
    page = viewer_client.get(reverse("inventory:identity_detail", args=[carol.pk])).content
    assert b"still holds" not in page


def test_an_event_payload_is_shown_as_json_not_a_python_dict(auditor_client):
    source, _ = create_source(name="gw")
    ingest_events(source=source, events=[make_event(attributes={"dry_run": True, "note": "é"})])
    event = AuditEvent.objects.get()
    url = reverse("audit:event_detail", args=[event.pk]) + f"?at={event.time.isoformat()}"
    pre = re.search(
        r'<pre class="json">(.*?)</pre>', auditor_client.get(url).content.decode(), re.S
    ).group(1)
    shown = unescape(pre)
    assert '"dry_run": true' in shown and '"note": "é"' in shown
    assert "True" not in shown and "'" not in shown


def test_pretty_json_sorts_keys_and_keeps_non_ascii():
    assert pretty_json({"b": None, "a": "ü"}) == '{\n  "a": "ü",\n  "b": null\n}'


def test_compact_time_drops_microseconds_and_shows_utc():
    assert compact_time("2026-12-05T12:58:59.123456+01:00") == "2026-12-05 11:58:59"
    assert compact_time(datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC)) == "2026-01-02 03:04:05"
    assert compact_time("not a time") == "not a time" and compact_time(None) == ""


def test_counts_of_one_are_singular():
    chain = render_to_string(
        "audit/_verification.html",
        {"verification": {"ok": True, "batches_checked": 1, "events_checked": 1}},
    )
    assert "1 batch," in chain and "1 event." in chain
    crawl = type(
        "C",
        (),
        {
            "pk": 1,
            "is_open": False,
            "status": "failed",
            "errors": 3,
            "summary": {
                "updated_since": "2026-12-04T10:00:00.654321+00:00",
                "by_kind": {"new": True},
            },
            "error_log": [{"at": "2026-12-05T11:58:59.123456+00:00", "message": "timeout"}],
            "elapsed": None,
        },
    )()
    log = render_to_string("inventory/_crawl_progress.html", {"crawl": crawl})
    assert "3 errors in all; only the first 1 was kept." in log
    # The crawl log's timestamps: compact, no microseconds (the full value stays in title).
    assert ">2026-12-05 11:58:59</td>" in log
    assert "<dd>2026-12-04 10:00:00</dd>" in log and ".654321" not in log
    assert "{&quot;new&quot;: true}" in log


def test_adding_editing_and_toggling_a_registry_says_it_worked(admin_client_):
    response = admin_client_.post(
        reverse("inventory:registry_create"),
        {
            "name": "official",
            "base_url": "https://registry.example.org",
            "kind": "official",
            "enabled": "on",
            "crawl_interval_minutes": "60",
        },
        follow=True,
    )
    assert "Registry official added." in response.content.decode()
    registry = Registry.objects.get(name="official")
    toggled = admin_client_.post(
        reverse("inventory:registry_toggle", args=[registry.pk]), follow=True
    )
    assert "Crawling of official disabled." in toggled.content.decode()


# --- In a real browser at 1,400 px ----------------------------------------------------------


def _wide_inventory():
    """Rows with the longest values the demo data has: ids, server names, scopes, e-mails."""
    inv = small_inventory()
    longest = server("io.github.modelcontextprotocol/filesystem-and-everything-else")
    for n in range(3):
        grant(
            f"grt-00{n}180-bebe06ea-7a1b-4c2d-9e8f-0123456789ab",
            client=inv["cursor"],
            subject=inv["bot"],
            server=longest,
            status="revoked",
            scopes=[
                "mcp.acme-runtime.example:read",
                "mcp.acme-runtime.example:write",
                "offline_access",
            ],
            revoked_by="secops-automation@acme.example",
            revoke_reason="offboarded",
            expires_at=datetime.now(UTC),
        )
    source, _ = create_source(name="gw-wide")
    ingest_events(
        source=source,
        events=[
            make_event(
                actor={
                    "id": "auth0|1d25c90426117597 39ea4a5b6c7d8e9f".replace(" ", ""),
                    "type": "human",
                    "idp": "https://idp.example.com",
                },
                client={"id": "https://copilot.partner.example/mcp/client-metadata.json"},
                server={"name": "io.github.modelcontextprotocol/filesystem-and-everything-else"},
                tool="browser_take_screenshot_of_everything",
                task_id="task-0123456789abcdef",
            )
            for _ in range(3)
        ]
        + [  # a URL elicitation with the longest ids: the elicitations list must fit too
            make_event(
                method="elicitation/create",
                client={"id": "https://copilot.partner.example/mcp/client-metadata.json"},
                server={"name": "io.github.modelcontextprotocol/filesystem-and-everything-else"},
                attributes={
                    "params": {
                        "mode": "url",
                        "elicitationId": "elicit-0123456789abcdef-0123456789abcdef-01234567",
                        "url": "https://payments.acme-runtime.example/authorize?session=abc",
                    }
                },
            )
        ],
    )
    return inv


@pytest.mark.slow
def test_lists_fit_a_1400_px_window_and_warnings_read_as_warnings(live_server, admin_user, client):
    sync_api, path = playwright_and_chromium()
    _wide_inventory()
    carol = identity("00u-carol", display_name="Carol", status="disabled")
    Registry.objects.create(name="corp", base_url="https://registry.corp.example", enabled=True)
    client.force_login(admin_user)
    cookie = client.cookies["sessionid"].value
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])
        widths = {}
        for url in (
            "/inventory/grants/",
            "/audit/",
            "/inventory/tasks/",
            "/inventory/elicitations/",
        ):
            page.goto(live_server.url + url, wait_until="networkidle")
            widths[url] = page.evaluate(
                "() => [document.querySelector('table.list').scrollWidth,"
                " document.documentElement.scrollWidth]"
            )
            lines = page.evaluate(  # line boxes of each time cell's text: 1 means no wrapping
                "() => [...document.querySelectorAll('td.when')].map(td => {"
                " const r = document.createRange(); r.selectNodeContents(td);"
                " return new Set([...r.getClientRects()].map(x => Math.round(x.top))).size; })"
            )
            assert lines and set(lines) == {1}, (url, lines)
        page.goto(live_server.url + "/", wait_until="networkidle")
        rows = page.evaluate(
            "() => { const tops = {}; for (const c of document.querySelectorAll("
            "'.cards .card')) { const t = c.getBoundingClientRect().top;"
            " tops[t] = (tops[t] || 0) + 1; } return Object.values(tops); }"
        )
        page.goto(live_server.url + f"/inventory/identities/{carol.pk}/")
        disabled = page.evaluate(
            "() => getComputedStyle(document.querySelector('.badge.b-disabled')).color"
        )
        page.goto(live_server.url + "/inventory/discovery/")
        toggle = page.evaluate(
            "() => getComputedStyle([...document.querySelectorAll("
            "'main button')].find(b => b.textContent.trim() === 'Disable'))"
            ".color"
        )
        page.goto(live_server.url + "/inventory/discovery/oauth/")
        heading_gap = page.evaluate(
            "() => { const h = [...document.querySelectorAll('main h2')]"
            ".find(h => h.textContent.includes('Protected resources'));"
            " return h.getBoundingClientRect().top"
            " - h.previousElementSibling.getBoundingClientRect().bottom; }"
        )
        browser.close()
    for url, (table, document) in widths.items():
        assert table <= 1360 and document <= 1400, (url, table, document)
    assert len(set(rows)) == 1, rows  # every row of overview cards equally full
    assert disabled == "rgb(181, 71, 8)"  # --warn
    assert toggle == "rgb(36, 83, 214)"  # --accent: an action, not a greyed-out label
    assert heading_gap >= 16


def test_cimd_clients_not_yet_fetched_are_counted_not_called_none(viewer_client):
    from tests.ui_factories import client

    client("https://agent-one.example/client.json")
    client("https://agent-two.example/client.json")
    client("local-agent")  # not a CIMD client: no document to fetch
    html = viewer_client.get(reverse("inventory:client_document_list")).content.decode()
    assert "No CIMD clients yet" not in html
    assert (
        "2 clients with an https <code>client_id</code> are waiting for their first fetch" in html
    )
    assert "No document fetched yet." in html


def test_a_cimd_list_with_nothing_seen_says_so(viewer_client):
    html = viewer_client.get(reverse("inventory:client_document_list")).content.decode()
    assert "No client with an https <code>client_id</code> has been seen yet." in html
    assert "waiting for" not in html


def test_the_registry_list_counts_one_record_and_one_error_in_the_singular():
    row = type(
        "R",
        (),
        {
            "pk": 1,
            "name": "corp",
            "base_url": "https://r.example",
            "enabled": True,
            "crawl_interval_minutes": 60,
            "last_crawled_at": None,
            "last_crawl_id": 7,
            "last_crawl_status": "done",
            "last_crawl_at": None,
            "last_crawl_records": 1,
            "last_crawl_errors": 1,
        },
    )()
    html = render_to_string("inventory/crawl_list.html", {"registries": [row], "can_admin": False})
    assert "1 record · 1 error" in html


def test_no_page_asks_for_a_missing_favicon(viewer_client, live_server):
    """Browsers asked for /favicon.ico on every page and got a 404: the page names its icon,
    and /favicon.ico itself is served for clients that ask anyway."""
    page = viewer_client.get("/").content.decode()
    assert '<link rel="icon" href="data:,">' in page
    assert httpx.get(f"{live_server.url}/favicon.ico").status_code == 200
