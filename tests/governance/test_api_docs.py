"""The API docs page: Swagger UI served by the console itself (no CDN), under the strict CSP,
linked from the API root."""

import re

import httpx
import pytest

from tests.governance.test_csp import ALLOWED_SCRIPT, INLINE_HANDLER

pytestmark = pytest.mark.django_db


def test_the_api_root_links_to_the_docs_and_the_schema(viewer_client):
    body = viewer_client.get("/api/v1/", HTTP_ACCEPT="application/json").json()
    assert body["docs"].endswith("/api/v1/docs/") and body["schema"].endswith("/api/v1/schema/")


def test_the_docs_page_is_served_locally_with_no_inline_script_or_style(viewer_client):
    response = viewer_client.get("/api/v1/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "an external URL in the page"
    assert not INLINE_HANDLER.search(html) and "<style" not in html
    assert not re.sub(ALLOWED_SCRIPT, "", html).count("<script")
    init = viewer_client.get("/api/v1/docs/?script=")
    assert init["Content-Type"].startswith("application/javascript")
    assert '"/api/v1/schema/"' in init.content.decode()


@pytest.mark.django_db(transaction=True)
def test_every_file_the_docs_page_loads_is_served_by_the_console(live_server, viewer):
    from django.test import Client

    session = Client()
    session.force_login(viewer)
    cookies = {"sessionid": session.cookies["sessionid"].value}
    with httpx.Client(base_url=live_server.url, cookies=cookies, timeout=10) as http:
        html = http.get("/api/v1/docs/").text
        urls = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert len(urls) >= 4
        for url in urls:
            assert http.get(url.replace("&amp;", "&")).status_code == 200, url


def test_the_docs_need_the_viewer_role(nobody_client):
    from django.test import Client

    assert Client().get("/api/v1/docs/").status_code == 401
    assert nobody_client.get("/api/v1/docs/").status_code == 403


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_docs_page_renders_the_api_in_chromium_with_no_csp_violation(live_server, viewer):
    from django.test import Client

    from tests.browser.chromium import playwright_and_chromium

    sync_api, path = playwright_and_chromium()
    session = Client()
    session.force_login(viewer)
    errors = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=["--no-sandbox"])
        page = browser.new_page()
        page.on("console", lambda m: m.type in ("error", "warning") and errors.append(m.text))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "url": live_server.url,
                    "value": session.cookies["sessionid"].value,
                }
            ]
        )
        page.goto(live_server.url + "/api/v1/docs/", wait_until="networkidle")
        page.wait_for_selector(".opblock", timeout=15_000)  # the operations are listed
        operations = page.locator(".opblock").count()
        browser.close()
    assert operations > 10
    assert errors == [], "\n".join(errors)
