"""Governance -> API tokens through the live server: create on the page, the secret shown once,
used on the API, revoked with the page's button; scopes offered never exceed the user's role."""

from __future__ import annotations

import re
from html import unescape

import httpx
import pytest
from django.test import Client

from governance.access import api_tokens
from governance.access.models import AdminAction, ApiToken
from tests.governance.test_csp import ALLOWED_SCRIPT, INLINE_HANDLER

pytestmark = pytest.mark.django_db(transaction=True)


def _browser(live_server, user) -> httpx.Client:
    session = Client()
    session.force_login(user)
    return httpx.Client(
        base_url=live_server.url,
        timeout=10,
        cookies={"sessionid": session.cookies["sessionid"].value},
    )


def _csrf(http, path):
    page = http.get(path)
    assert page.status_code == 200
    html = page.text
    assert "<style" not in html and not INLINE_HANDLER.search(html)
    assert "<script" not in ALLOWED_SCRIPT.sub("", html)
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1), html


def test_a_token_made_on_the_page_is_shown_once_works_and_stops_when_revoked(live_server, auditor):
    with _browser(live_server, auditor) as http:
        csrf, _ = _csrf(http, "/governance/api-tokens/")
        created = http.post(
            "/governance/api-tokens/",
            data={
                "csrfmiddlewaretoken": csrf,
                "name": "siem pull",
                "scope": "export",
                "expires_in_days": "30",
            },
            headers={"Referer": f"{live_server.url}/"},
        )
        assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
        secret = unescape(re.search(r'<pre class="token">([^<]+)</pre>', created.text).group(1))
        _, listing = _csrf(http, "/governance/api-tokens/")
        assert secret not in listing and secret[:12] in listing  # only the prefix, ever again

    bearer = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(base_url=live_server.url, timeout=10) as api:
        assert api.get("/api/v1/audit-events/", headers=bearer).status_code == 200
        token = ApiToken.objects.get()
        assert token.scope == "export" and token.user == auditor
        with _browser(live_server, auditor) as http:
            csrf, _ = _csrf(http, "/governance/api-tokens/")
            revoked = http.post(
                f"/governance/api-tokens/{token.pk}/revoke/",
                data={"csrfmiddlewaretoken": csrf},
                headers={"Referer": f"{live_server.url}/"},
            )
            assert revoked.status_code == 302
        assert api.get("/api/v1/audit-events/", headers=bearer).status_code == 401


def test_the_form_offers_only_scopes_up_to_the_users_role_and_refuses_more(viewer, client):
    client.force_login(viewer)
    html = client.get("/governance/api-tokens/").content.decode()
    assert 'value="read"' in html and 'value="export"' not in html and 'name="service"' not in html
    response = client.post(
        "/governance/api-tokens/", {"name": "x", "scope": "admin", "expires_in_days": 30}
    )
    assert response.status_code == 400 and not ApiToken.objects.exists()


def test_a_user_sees_and_revokes_only_their_own_tokens_and_an_admin_all(
    viewer, auditor, admin_user, client
):
    mine, _ = api_tokens.create_token(actor=viewer, name="mine", scope="read")
    theirs, _ = api_tokens.create_token(actor=auditor, name="theirs", scope="read")
    client.force_login(viewer)
    html = client.get("/governance/api-tokens/").content.decode()
    assert mine.prefix in html and theirs.prefix not in html
    assert client.post(f"/governance/api-tokens/{theirs.pk}/revoke/").status_code == 404
    client.force_login(admin_user)
    html = client.get("/governance/api-tokens/").content.decode()
    assert mine.prefix in html and theirs.prefix in html
    assert client.post(f"/governance/api-tokens/{theirs.pk}/revoke/").status_code == 302
    assert ApiToken.objects.get(pk=theirs.pk).revoked_at is not None


def test_an_admin_makes_a_service_token_for_a_service_account_that_cannot_sign_in(
    admin_user, client
):
    client.force_login(admin_user)
    response = client.post(
        "/governance/api-tokens/",
        {"name": "nightly export", "scope": "export", "expires_in_days": 7, "service": "siem"},
    )
    assert response.status_code == 200
    token = ApiToken.objects.get()
    assert token.name == "nightly export" and token.user.username == "svc-siem"
    assert not token.user.has_usable_password()
    assert api_tokens.effective_role(token) == "Auditor"
    granted = AdminAction.objects.get(action="user.role_changed", object_id=str(token.user.pk))
    assert granted.actor == admin_user and granted.after == {"roles": ["Auditor"]}


def test_an_expiry_above_the_maximum_is_refused_on_the_expiry_field(viewer, client, settings):
    settings.API_TOKEN_MAX_DAYS = 90
    client.force_login(viewer)
    response = client.post(
        "/governance/api-tokens/", {"name": "x", "scope": "read", "expires_in_days": 91}
    )
    assert response.status_code == 400 and not ApiToken.objects.exists()
    assert response.context["form"].errors["expires_in_days"]
