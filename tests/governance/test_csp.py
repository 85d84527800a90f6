"""Content-Security-Policy: every page sends a strict policy and holds no inline script or
handler, charts still draw under it in a real browser, and pages with audit data are no-store."""

import json
import re
from html import unescape

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from governance.access import charts
from inventory.models import AuthorizationServer, Registry
from inventory.services import crawls
from inventory.services.flags import raise_flag
from tests.browser.chromium import playwright_and_chromium
from tests.ingest_helpers import make_event
from tests.ui_factories import small_inventory

pytestmark = pytest.mark.django_db

UI_NAMESPACES = ("governance", "inventory", "audit")
# <script> with a src, or a JSON data block (not executed); anything else is inline script.
ALLOWED_SCRIPT = re.compile(
    r"<script\b(?=[^>]*\bsrc=)[^>]*>\s*</script>"
    r'|<script type="application/json">.*?</script>',
    re.S,
)
INLINE_HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I)


def _ui_patterns(resolver=None, prefix="", namespace=""):
    """(url name, route) of every UI page, walked from the URL conf so a new page is included."""
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            yield from _ui_patterns(
                entry, prefix + str(entry.pattern), entry.namespace or namespace
            )
        elif isinstance(entry, URLPattern) and namespace in UI_NAMESPACES and entry.name:
            yield f"{namespace}:{entry.name}", entry


def _objects(*, crawl=True):
    inv = small_inventory()
    now = timezone.now()
    registry = Registry.objects.create(name="corp", base_url="https://registry.corp.example")
    # Not in the browser test: its commit would run the crawl (of an unresolvable host).
    crawl = (
        crawls.start_crawl(kind="registry", target=str(registry.pk), registry=registry)
        if crawl
        else registry
    )
    auth = AuthorizationServer.objects.create(
        issuer="https://login.acme.example", first_seen=now, last_seen=now
    )
    raise_flag(kind="task.illegal_transition", obj=inv["task"], summary="<b>bad</b>")
    source, _ = create_source(name="gw-csp")
    ingest_events(source=source, events=[make_event(tool="</script><script>alert(1)")])
    from audit.models import AuditEvent

    event = AuditEvent.objects.first()
    # A route's pk is the first of these keys its name contains: the longer nouns come first.
    return {
        "authorization_server": auth.pk,
        "client_document": inv["cursor"].pk,
        "server_remote": inv["crm"].remotes.first().pk,
        "identity": inv["alice"].pk,
        "client": inv["cursor"].pk,
        "server": inv["crm"].pk,
        "grant": inv["grant"].pk,
        "task": inv["task"].pk,
        "registry": registry.pk,
        "crawl": crawl.pk,
        "event": event.pk,
        "source": source.pk,
        "user": 1,
    }


def _kwargs(name: str, pattern: URLPattern, pks: dict) -> dict:
    kwargs = {}
    for key in pattern.pattern.converters:
        if key == "pk":
            model = next((k for k in pks if k in name.split(":")[1]), "user")
            kwargs[key] = pks[model]
        else:
            kwargs[key] = {"fmt": "csv", "action": "rotate"}.get(key, "x")
    return kwargs


def _every_page(pks):
    for name, pattern in _ui_patterns():
        yield name, reverse(name, kwargs=_kwargs(name, pattern, pks))


def test_every_page_sends_the_policy_and_holds_no_inline_script_or_handler(admin_client_, settings):
    pks = _objects()
    pages = list(_every_page(pks))
    assert len(pages) > 30  # the walk found the UI, not an empty URL conf
    for name, url in pages:
        response = admin_client_.get(url)
        assert response["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY, name
        if "text/html" not in response.get("Content-Type", ""):
            continue
        html = response.content.decode()
        leftover = ALLOWED_SCRIPT.sub("", html)
        assert "<script" not in leftover, (name, url)
        assert not INLINE_HANDLER.search(html), (name, url)
        assert " style=" not in html and "<style" not in html, (name, url)


def test_the_policy_forbids_inline_script_eval_and_framing(client, settings):
    policy = client.get(reverse("governance:account_login"))["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"
    # Styles: our own files, and plotly's two <style> elements by hash only (settings.py).
    assert directives["style-src"].split() == ["'self'", *settings.PLOTLY_STYLE_HASHES]
    assert directives["object-src"] == "'none'" and directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy


def test_htmx_runs_without_eval_injected_styles_or_script_evaluation(viewer_client):
    page = viewer_client.get("/").content.decode()
    assert (
        '<meta name="htmx-config" content=\'{"includeIndicatorStyles": false, '
        '"allowEval": false, "allowScriptTags": false}\'>'
    ) in page
    assert "hx-on" not in page


def test_a_chart_label_cannot_break_out_of_its_figure_attribute():
    label = '"></div><script>alert(1)</script><div x="'
    html = charts.top_tools_chart([{"server_name": label, "tool": "x", "events": 1}])
    assert "<script" not in html and html.count('"') == 4  # class="…" data-plotly-figure="…"
    figure = json.loads(unescape(html.split('data-plotly-figure="')[1].split('"')[0]))
    assert figure["data"][0]["y"] == [f"{label} / x"[:50]]


@pytest.mark.parametrize("url", ["/", "/audit/", "/inventory/tasks/", "/api/v1/tasks/"])
def test_pages_with_audit_data_are_never_stored_by_a_cache(viewer_client, url):
    assert viewer_client.get(url)["Cache-Control"] == "no-store"


def test_only_the_browsable_api_may_use_inline_styles_and_never_inline_script(
    viewer_client, settings
):
    browsable = viewer_client.get("/api/v1/tasks/", HTTP_ACCEPT="text/html")
    json = viewer_client.get("/api/v1/tasks/", HTTP_ACCEPT="application/json")
    assert "style-src 'self' 'unsafe-inline'" in browsable["Content-Security-Policy"]
    assert "script-src 'self';" in browsable["Content-Security-Policy"]
    assert json["Content-Security-Policy"] == settings.CONTENT_SECURITY_POLICY


@pytest.mark.slow
def test_the_overview_charts_draw_in_chromium_with_no_csp_violation(
    live_server, admin_user, client
):
    sync_api, path = playwright_and_chromium()
    pks = _objects(crawl=False)
    admin_user.is_staff = admin_user.is_superuser = True  # the Django admin too
    admin_user.save()
    client.force_login(admin_user)
    cookie = client.cookies["sessionid"].value
    # Only GET pages whose objects exist (asked before playwright runs its event loop).
    pages = [
        url
        for url, response in ((url, client.get(url)) for _, url in _every_page(pks))
        if response.status_code == 200 and not response.streaming and b"<html" in response.content
    ]  # pages, not fragments or downloads
    errors = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=["--no-sandbox"])
        page = browser.new_page()
        page.on(
            "console",
            lambda m: m.type in ("error", "warning") and errors.append(f"{page.url}: {m.text}"),
        )
        page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
        page.context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])
        for url in ("/", "/audit/"):
            response = page.goto(live_server.url + url, wait_until="networkidle")
            assert "script-src 'self'" in response.headers["content-security-policy"]
            page.wait_for_selector(".plotly-graph-div .main-svg", timeout=10_000)
        page.goto(live_server.url + "/")
        drawn = page.wait_for_function(  # a function, not a string: a string would need eval
            "() => document.querySelectorAll('.plotly-graph-div .main-svg').length >= 4"
        )
        count = page.locator(".plotly-graph-div .svg-container").count()
        # Charts swapped in by htmx are drawn too (static/js/charts.js on htmx:load).
        page.evaluate(
            "() => { document.querySelector('main').dataset.old = '1';"
            " htmx.ajax('GET', '/', {target: 'main', select: 'main',"
            " swap: 'outerHTML'}); }"
        )
        page.wait_for_function(
            "() => !document.querySelector('main[data-old]') && document"
            ".querySelectorAll('main .plotly-graph-div .main-svg').length >= 4"
        )
        swapped = page.locator(".plotly-graph-div .svg-container").count()
        assert page.locator("[data-plotly-figure]").count() == 0
        # Every other page too (htmx lists, the browsable API, the Django admin): no CSP error.
        # Six tabs at a time: each page still settles (no request for 500 ms) before the next
        # is loaded in its tab, but the tabs' quiet periods overlap instead of adding up.
        urls = [
            *pages,
            "/api/v1/tasks/",
            "/admin/",
            "/admin/inventory/task/",
            f"/admin/inventory/task/{pks['task']}/change/",
        ]
        more = browser.new_context()
        more.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])
        tabs = [page]
        for _ in range(5):
            tab = more.new_page()
            tab.on(
                "console",
                lambda m, t=tab: (
                    m.type in ("error", "warning") and errors.append(f"{t.url}: {m.text}")
                ),
            )
            tab.on("pageerror", lambda exc, t=tab: errors.append(f"{t.url}: {exc}"))
            tabs.append(tab)
        for start in range(0, len(urls), len(tabs)):
            batch = list(zip(tabs, urls[start : start + len(tabs)]))
            for tab, url in batch:
                tab.goto(live_server.url + url, wait_until="commit")
            for tab, _url in batch:
                tab.wait_for_load_state("networkidle")
        browser.close()
    assert drawn and count >= 4 and swapped == count
    assert errors == [], "\n".join(errors)


def test_company_sign_in_adds_only_its_idp_to_form_action(client, settings):
    """The sign-in and sign-out forms redirect to the IdP; Chromium applies form-action to
    those redirects (tests/governance/test_sso_browser.py clicks them), so the IdP's origin
    must be there, and nothing else may relax."""
    settings.OIDC_ISSUER = "https://idp.acme.example/oauth2/default"
    settings.OIDC_FORM_ACTION_ORIGINS = ["https://login.acme.example/x", "javascript:alert(1)"]
    policy = client.get("/accounts/login/")["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["form-action"] == (
        "'self' https://idp.acme.example https://login.acme.example"
    )
    unchanged = {k: v for k, v in directives.items() if k != "form-action"}
    expected = dict(d.strip().split(" ", 1) for d in settings.CONTENT_SECURITY_POLICY.split(";"))
    assert unchanged == {k: v for k, v in expected.items() if k != "form-action"}
