"""Company sign-in (OIDC, governance/sso) walked over HTTP: the console on Django's live server
(and once on the production web server, configured by environment variables), the IdP a real
oidc-provider (tests/sso_peer.py) with a login form, consent and groups."""

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from governance.access.models import AdminAction
from governance.access.roles import user_role
from governance.sso.checks import check_sso_settings
from governance.sso.roles import parse_role_map, role_for
from governance.sso.services import sso_username
from tests.sso_peer import CALLBACK_PATH, sign_in, sign_in_peer, start_sign_in, walk_idp
from tests.web_server import WebServer, free_port

PASSWORD = "correct-horse-battery"


def _browser():
    # Connection: close, so no live-server thread is left holding a keep-alive connection.
    return httpx.Client(follow_redirects=False, timeout=15, headers={"Connection": "close"})


def _console_user(idp, name):
    return User.objects.get(username=sso_username(idp.issuer, name))


def _actions(user):
    return list(
        AdminAction.objects.filter(object_id=str(user.pk), object_type="auth.user")
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_signing_in_creates_the_user_with_the_role_their_groups_give(sso_console):
    console, idp = sso_console
    with _browser() as http:
        to_idp = start_sign_in(http, console, next_url="/governance/")
        assert to_idp.status_code == 302 and to_idp.headers["location"].startswith(idp.issuer)
        query = parse_qs(urlsplit(to_idp.headers["location"]).query)
        assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
        assert query["scope"] == ["openid email profile groups"]

        landed = walk_idp(http, to_idp, "alice", idp.users["alice"]["password"])
        assert (landed.status_code, str(landed.url)) == (200, f"{console}/governance/")
        assert "Alice Admin" in landed.text and '<span class="role">Admin</span>' in landed.text
        users = http.get(f"{console}/governance/users/").text
        assert 'Alice Admin <span class="badge" title="Signs in with the company IdP' in users

    alice = _console_user(idp, "alice")
    assert (alice.email, alice.first_name, user_role(alice)) == (
        "alice@example.com",
        "Alice Admin",
        "Admin",
    )
    assert not alice.has_usable_password() and not alice.is_superuser
    assert _actions(alice) == ["user.created", "user.role_changed", "login.sso"]
    signed_in = AdminAction.objects.get(action="login.sso")
    assert signed_in.actor == alice and signed_in.object_repr == "Alice Admin <alice@example.com>"
    assert signed_in.after["groups"] == ["mcp-admins"] and signed_in.after["sub"] == "alice"


def test_the_role_follows_the_idp_groups_at_every_sign_in(sso_console):
    console, idp = sso_console
    bob_password = idp.users["bob"]["password"]
    with _browser() as http:
        assert sign_in(http, console, "bob", bob_password).status_code == 200
    bob = _console_user(idp, "bob")
    assert user_role(bob) == "Auditor"

    idp.set_groups("bob", ["mcp-admins", "staff"])
    with _browser() as http:
        assert sign_in(http, console, "bob", bob_password).status_code == 200
    assert user_role(User.objects.get(pk=bob.pk)) == "Admin"

    idp.set_groups("bob", ["staff"])  # the group that gave a role is taken away
    with _browser() as http:
        refused = sign_in(http, console, "bob", bob_password)
        assert refused.status_code == 403 and "has no role in this console" in refused.text
    assert user_role(User.objects.get(pk=bob.pk)) is None
    changes = AdminAction.objects.filter(action="user.role_changed", object_id=str(bob.pk))
    assert [(c.before["roles"], c.after["roles"]) for c in changes.order_by("id")] == [
        ([], ["Auditor"]),
        (["Auditor"], ["Admin"]),
        (["Admin"], []),
    ]
    assert User.objects.filter(username__startswith="oidc:").count() == 1  # the same user


def test_a_user_whose_groups_give_no_role_is_told_to_ask_an_admin_and_not_signed_in(sso_console):
    console, idp = sso_console
    with _browser() as http:
        page = sign_in(http, console, "carol", idp.users["carol"]["password"])
        assert page.status_code == 403
        assert "Your account has no role in this console" in page.text
        assert "Ask an Admin" in page.text and "Carol Contractor" in page.text
        assert http.get(f"{console}/").headers["location"].startswith("/accounts/login/")
    carol = _console_user(idp, "carol")
    refused = AdminAction.objects.get(action="login.sso_refused", object_id=str(carol.pk))
    assert refused.actor is None and "no role" in refused.note


def test_the_everyone_entry_of_the_role_map_gives_its_role_to_any_group(sso_console, settings):
    console, idp = sso_console
    settings.OIDC_ROLE_MAP = "mcp-admins=Admin,*=Viewer"
    with _browser() as http:
        overview = sign_in(http, console, "carol", idp.users["carol"]["password"])
        assert (overview.status_code, str(overview.url)) == (200, f"{console}/")
    assert user_role(_console_user(idp, "carol")) == "Viewer"


def test_signing_out_ends_the_console_session_and_then_the_idp_session(sso_console):
    console, idp = sso_console
    with _browser() as http:
        sign_in(http, console, "alice", idp.users["alice"]["password"])
        out = http.post(
            f"{console}/accounts/logout/",
            data={"csrfmiddlewaretoken": http.cookies["csrftoken"]},
            headers={"Referer": f"{console}/"},
        )
        assert out.status_code == 302 and out.headers["location"].startswith(idp.issuer)
        query = parse_qs(urlsplit(out.headers["location"]).query)
        assert query["post_logout_redirect_uri"] == [f"{console}/accounts/login/"]
        assert query["id_token_hint"] and query["client_id"] == [idp.client_id]
        assert http.get(f"{console}/").status_code == 302  # signed out of the console already

        # The IdP accepts the hint and the redirect URI: its confirmation form, then back.
        confirm = http.get(out.headers["location"])
        assert confirm.status_code == 200 and 'name="xsrf"' in confirm.text
        action = confirm.text.split('action="', 1)[1].split('"', 1)[0]
        xsrf = confirm.text.split('name="xsrf" value="', 1)[1].split('"', 1)[0]
        done = http.post(action, data={"xsrf": xsrf, "logout": "yes"})
        assert done.headers["location"].startswith(f"{console}/accounts/login/")


def test_with_local_login_off_the_password_form_is_gone_and_passwords_are_refused(
    sso_console, settings
):
    console, _idp = sso_console
    settings.LOCAL_LOGIN_ENABLED = False
    User.objects.create_superuser("root", password=PASSWORD)
    with _browser() as http:
        page = http.get(f"{console}/accounts/login/")
        assert "Sign in with Test IdP" in page.text and 'name="password"' not in page.text
        refused = http.post(
            f"{console}/accounts/login/",
            data={
                "username": "root",
                "password": PASSWORD,
                "csrfmiddlewaretoken": http.cookies["csrftoken"],
            },
        )
        assert refused.status_code == 403
        assert "Signing in with a console password is turned off" in refused.text
        assert "sessionid" not in http.cookies
    # Every other password login too (the Django admin's form calls the same backend).
    request = RequestFactory().post("/admin/login/", REMOTE_ADDR="10.0.0.9")
    assert authenticate(request, username="root", password=PASSWORD) is None
    settings.LOCAL_LOGIN_ENABLED = True
    assert authenticate(request, username="root", password=PASSWORD).username == "root"


def test_a_tampered_state_is_refused_with_the_error_page(sso_console):
    console, idp = sso_console
    with _browser() as http:
        to_idp = start_sign_in(http, console)
        callback = walk_idp(
            http, to_idp, "alice", idp.users["alice"]["password"], until=console + CALLBACK_PATH
        )
        parts = urlsplit(callback)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        tampered = http.get(f"{console}{CALLBACK_PATH}", params={**query, "state": "forged"})
        assert tampered.status_code == 400
        assert "state mismatch" in tampered.text and "Back to the login page" in tampered.text
        assert http.get(f"{console}/").status_code == 302  # not signed in

    # The genuine answer replayed in another browser (no sign-in started there) is refused too.
    with _browser() as other:
        replayed = other.get(callback)
        assert replayed.status_code == 400 and "state mismatch" in replayed.text
    assert not User.objects.filter(username__startswith="oidc:").exists()


def test_an_error_answer_from_the_idp_shows_its_reason(sso_console):
    console, _idp = sso_console
    with _browser() as http:
        answer = http.get(
            f"{console}{CALLBACK_PATH}",
            params={"error": "access_denied", "error_description": "no thanks", "state": "x"},
        )
    assert answer.status_code == 400
    assert "refused the sign-in: access_denied" in answer.text
    assert "no thanks" not in answer.text  # free text from a URL anyone can craft


def test_an_issuer_the_discovery_document_does_not_name_is_refused(sso_console, settings):
    console, idp = sso_console
    settings.OIDC_ISSUER = idp.issuer + "/"  # the same discovery URL, another issuer string
    with _browser() as http:
        answer = start_sign_in(http, console)
    assert answer.status_code == 502 and "not OIDC_ISSUER" in answer.text


def test_discovery_goes_through_the_fetchers_address_rules(sso_console, settings):
    console, _idp = sso_console
    settings.FETCH_ALLOWLIST = []  # the peer is plain http on loopback: refused
    with _browser() as http:
        answer = start_sign_in(http, console)
    assert answer.status_code == 502 and "(not_allowed_scheme)" in answer.text


@pytest.mark.django_db
def test_without_an_issuer_the_login_page_has_only_the_local_form(client, settings):
    settings.OIDC_ISSUER = ""
    page = client.get("/accounts/login/")
    assert (
        "Sign in with" not in page.content.decode() and 'name="password"' in page.content.decode()
    )
    assert client.post("/accounts/oidc/login/").status_code == 404
    assert client.get(CALLBACK_PATH).status_code == 404


@pytest.mark.django_db
def test_local_logins_still_lock_out_with_company_sign_in_on(client, settings, viewer):
    settings.OIDC_ISSUER = "https://idp.example.com"  # the login page never fetches discovery
    page = client.get("/accounts/login/").content.decode()
    assert "Sign in with company SSO" in page and 'name="password"' in page
    statuses = [
        client.post(
            "/accounts/login/", {"username": viewer.username, "password": "wrong-guess"}
        ).status_code
        for _ in range(settings.AXES_FAILURE_LIMIT)
    ]
    assert statuses[-1] == 429


def test_the_role_map_names_its_bad_entry(settings):
    assert parse_role_map("a=Admin, b = Viewer ,") == [("a", "Admin"), ("b", "Viewer")]
    with pytest.raises(ImproperlyConfigured, match="'ops=Root'"):
        parse_role_map("a=Admin,ops=Root")
    settings.OIDC_ROLE_MAP = "ops=Auditor,sec=Admin"
    assert role_for(["ops", "sec"]) == "Admin" and role_for("ops") == "Auditor"
    assert role_for(None) is None and role_for(["dev"]) is None


def test_a_bad_role_map_is_a_configuration_error_and_a_clear_page_not_a_500(sso_console, settings):
    console, idp = sso_console
    settings.OIDC_ROLE_MAP = "mcp-admins=Root"
    assert [e.id for e in check_sso_settings(None)] == ["sso.E003"]
    with _browser() as http:
        page = sign_in(http, console, "alice", idp.users["alice"]["password"])
    assert page.status_code == 503 and "sign-in settings are wrong" in page.text
    assert "mcp-admins=Root" in page.text and not User.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_production_web_server_signs_in_with_settings_from_the_environment(tmp_path):
    port = free_port()
    console = f"http://127.0.0.1:{port}"
    with sign_in_peer(console) as idp:
        secret_file = tmp_path / "oidc-secret"
        secret_file.write_text(idp.client_secret + "\n")
        env = {k: v for k, v in idp.console_settings().items() if k != "OIDC_CLIENT_SECRET"}
        env.update(
            FETCH_ALLOWLIST="127.0.0.1",
            OIDC_CLIENT_SECRET="",
            OIDC_CLIENT_SECRET_FILE=str(secret_file),
            LOCAL_LOGIN_ENABLED="false",
        )
        web = WebServer(workers=1, port=port, env=env)
        try:
            with _browser() as http:
                login_page = http.get(f"{console}/accounts/login/")
                assert "Sign in with Test IdP" in login_page.text
                assert 'name="password"' not in login_page.text
                overview = sign_in(http, console, "alice", idp.users["alice"]["password"])
                assert (overview.status_code, str(overview.url)) == (200, f"{console}/")
                assert '<span class="role">Admin</span>' in overview.text
        finally:
            web.kill()
    assert user_role(_console_user(idp, "alice")) == "Admin"


def test_a_token_request_the_idp_refuses_shows_its_error_code(sso_console, settings):
    console, idp = sso_console
    with _browser() as http:
        to_idp = start_sign_in(http, console)
        callback = walk_idp(
            http, to_idp, "alice", idp.users["alice"]["password"], until=console + CALLBACK_PATH
        )
        settings.OIDC_CLIENT_SECRET = "not-the-secret"  # the code is redeemed with a bad secret
        answer = http.get(callback)
    assert answer.status_code == 400 and "refused the sign-in: invalid_client" in answer.text
    assert not User.objects.exists()
