"""Brute-force protection: wrong passwords lock the account and the address out for a cool-off;
an Admin unlocks from the users page (recorded); other accounts and addresses are not affected."""

import base64
import re
from io import StringIO

import httpx
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

from governance.access.models import AdminAction

PASSWORD = "correct-horse-battery"


def _post_login(client, username, password, addr="10.0.0.1"):
    return client.post(
        "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=addr
    )


def _fail(client, username, times, addr="10.0.0.1"):
    return [_post_login(client, username, "wrong-guess", addr).status_code for _ in range(times)]


def _browser_login(base, username, password):
    """A browser's login through the live server: GET the form (CSRF cookie), POST it."""
    http = httpx.Client(
        base_url=base, follow_redirects=False, timeout=10, headers={"Connection": "close"}
    )  # no server thread left behind
    page = http.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    return http, http.post(
        "/accounts/login/",
        data={"username": username, "password": password, "csrfmiddlewaretoken": token},
    )


@pytest.mark.django_db(transaction=True)
def test_wrong_passwords_lock_the_account_until_an_admin_unlocks_it_on_the_users_page(
    live_server, client, admin_user, viewer
):
    limit = settings.AXES_FAILURE_LIMIT
    statuses = [
        _browser_login(live_server.url, viewer.username, "wrong-guess")[1].status_code
        for _ in range(limit)
    ]
    assert statuses[:-1] == [200] * (limit - 1)  # the form again, with an error
    assert statuses[-1] == 429

    http, locked = _browser_login(live_server.url, viewer.username, PASSWORD)
    assert locked.status_code == 429  # the right password is refused while locked
    assert "Too many failed logins" in locked.text and "sessionid" not in http.cookies

    # The Admin's own session (made before: this address is locked out as well).
    client.force_login(admin_user)
    admin_http = httpx.Client(
        base_url=live_server.url,
        timeout=10,
        headers={"Connection": "close"},
        cookies={"sessionid": client.cookies["sessionid"].value},
    )
    users = admin_http.get("/governance/users/").text
    assert "locked out" in users and viewer.username in users
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', users).group(1)
    unlocked = admin_http.post(
        f"/governance/users/{viewer.pk}/unlock/",
        data={"csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{live_server.url}/governance/users/"},
    )
    assert unlocked.status_code == 302

    http, ok = _browser_login(live_server.url, viewer.username, PASSWORD)
    assert ok.status_code == 302 and "sessionid" in http.cookies
    record = AdminAction.objects.get(action="user.unlocked")
    assert record.actor == admin_user and record.object_repr == viewer.username


def test_one_accounts_lockout_leaves_other_accounts_at_other_addresses_alone(
    client, viewer, auditor
):
    limit = settings.AXES_FAILURE_LIMIT
    assert _fail(client, viewer.username, limit, addr="10.0.0.1")[-1] == 429
    # The same account from another address: still locked (the account is under attack).
    assert _post_login(client, viewer.username, PASSWORD, addr="10.0.0.2").status_code == 429
    # Another account from another address logs in.
    assert _post_login(client, auditor.username, PASSWORD, addr="10.0.0.3").status_code == 302


def test_one_address_guessing_many_accounts_is_locked_out(client, viewer, auditor):
    limit = settings.AXES_FAILURE_LIMIT
    for i in range(limit - 1):
        assert _post_login(client, f"guess-{i}", "wrong", addr="10.9.9.9").status_code == 200
    assert _post_login(client, "guess-last", "wrong", addr="10.9.9.9").status_code == 429
    # Even a real account's right password is refused from that address...
    assert _post_login(client, viewer.username, PASSWORD, addr="10.9.9.9").status_code == 429
    # ...and works from anywhere else.
    assert _post_login(client, viewer.username, PASSWORD, addr="10.0.0.8").status_code == 302


def test_a_lockout_is_recorded_once_and_the_failures_before_it_do_not_lock(client, viewer):
    limit = settings.AXES_FAILURE_LIMIT
    _fail(client, viewer.username, limit - 1)
    assert not AdminAction.objects.filter(action="login.locked_out").exists()
    _fail(client, viewer.username, 3)
    record = AdminAction.objects.get(action="login.locked_out")
    assert record.actor is None and record.ip_address == "10.0.0.1"
    assert record.after == {
        "username": viewer.username,
        "ip_address": "10.0.0.1",
        "failures": limit,
    }


def test_a_correct_login_before_the_limit_clears_the_count(client, viewer):
    limit = settings.AXES_FAILURE_LIMIT
    _fail(client, viewer.username, limit - 1)
    assert _post_login(client, viewer.username, PASSWORD).status_code == 302
    client.logout()
    assert _fail(client, viewer.username, limit - 1) == [200] * (limit - 1)


def test_api_basic_auth_cannot_be_used_to_guess_passwords(client, viewer):
    """The API takes sessions only in practice: anonymous /api/ calls are answered 401 before any
    password is checked, so Basic auth is no way around the login form's lockout."""
    token = base64.b64encode(f"{viewer.username}:{PASSWORD}".encode()).decode()
    response = client.get("/api/v1/", HTTP_AUTHORIZATION=f"Basic {token}", REMOTE_ADDR="10.0.0.5")
    assert response.status_code == 401


def test_the_users_page_unlocks_a_locked_address_and_records_it(admin_client_):
    limit, browser = settings.AXES_FAILURE_LIMIT, Client()
    for i in range(limit):
        _post_login(browser, f"nobody-{i}", "wrong", addr="10.7.7.7")
    page = admin_client_.get("/governance/users/").content.decode()
    assert 'name="ip_address" value="10.7.7.7"' in page
    response = admin_client_.post("/governance/lockouts/unlock/", {"ip_address": "10.7.7.7"})
    assert response.status_code == 302
    assert 'value="10.7.7.7"' not in admin_client_.get("/governance/users/").content.decode()
    record = AdminAction.objects.get(action="login.unlocked")
    assert record.before == {"ip_address": "10.7.7.7"}


def test_unlocking_needs_the_admin_role_and_a_post(viewer, admin_client_, auditor):
    viewer_client = Client()
    viewer_client.force_login(viewer)
    assert viewer_client.post(f"/governance/users/{auditor.pk}/unlock/").status_code == 403
    assert admin_client_.get(f"/governance/users/{auditor.pk}/unlock/").status_code == 405
    assert (
        admin_client_.post("/governance/lockouts/unlock/", {"ip_address": "nope"}).status_code
        == 400
    )


def test_the_axes_reset_username_command_is_recorded(client, viewer):
    _fail(client, viewer.username, settings.AXES_FAILURE_LIMIT)
    call_command("axes_reset_username", viewer.username, stdout=StringIO())
    assert _post_login(client, viewer.username, PASSWORD, addr="10.0.0.2").status_code == 302
    record = AdminAction.objects.get(action="login.unlocked")
    assert "manage.py axes_reset_username" in record.actor_repr
    assert record.before == {"username": viewer.username}


def test_a_locked_out_user_who_does_not_exist_is_told_the_same_as_one_who_does(client, viewer):
    limit = settings.AXES_FAILURE_LIMIT
    real = _fail(client, viewer.username, limit, addr="10.1.1.1")
    ghost = _fail(client, "no-such-user", limit, addr="10.1.1.2")
    assert real == ghost
