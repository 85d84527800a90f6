"""Every signed-in user changes their own password from the header (staff or not), recorded
without the password, with the password validators applied."""

import json
import re

import httpx
import pytest

from governance.access.models import AdminAction

OLD = "correct-horse-battery"
NEW = "a-brand-new-passphrase-42"


def _change(client, old=OLD, new1=NEW, new2=NEW):
    return client.post(
        "/accounts/password/", {"old_password": old, "new_password1": new1, "new_password2": new2}
    )


@pytest.mark.django_db(transaction=True)
def test_a_viewer_who_is_not_staff_changes_their_password_through_the_live_server(
    live_server, viewer
):
    assert not viewer.is_staff
    http = httpx.Client(
        base_url=live_server.url, timeout=10, headers={"Connection": "close"}
    )  # no server thread left behind
    page = http.get("/accounts/login/")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    http.post(
        "/accounts/login/",
        data={"username": viewer.username, "password": OLD, "csrfmiddlewaretoken": token},
    )
    overview = http.get("/")
    assert 'href="/accounts/password/"' in overview.text  # linked from the header
    form = http.get("/accounts/password/")
    assert form.status_code == 200
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    done = http.post(
        "/accounts/password/",
        data={
            "old_password": OLD,
            "new_password1": NEW,
            "new_password2": NEW,
            "csrfmiddlewaretoken": token,
        },
        follow_redirects=True,
    )
    assert done.status_code == 200 and "Your password was changed" in done.text
    assert http.get("/").status_code == 200  # still signed in after the change
    viewer.refresh_from_db()
    assert viewer.check_password(NEW)
    record = AdminAction.objects.get(action="user.password_changed")
    assert record.actor == viewer and record.object_id == str(viewer.pk)
    assert record.ip_address == "127.0.0.1"
    text = json.dumps([record.before, record.after])
    assert NEW not in text and OLD not in text and "pbkdf2" not in text


def test_a_user_without_a_role_may_change_their_password(nobody_client, nobody):
    assert nobody_client.get("/accounts/password/").status_code == 200
    assert _change(nobody_client).status_code == 302
    nobody.refresh_from_db()
    assert nobody.check_password(NEW)


@pytest.mark.parametrize(
    ("old", "new1", "new2", "field", "message"),
    [
        (
            "wrong-old-password",
            NEW,
            NEW,
            "old_password",
            "Your old password was entered incorrectly",
        ),
        (OLD, "short", "short", "new_password2", "This password is too short"),
        (OLD, "password123456", "password123456", "new_password2", "This password is too common"),
        (OLD, NEW, NEW + "x", "new_password2", "The two password fields"),
    ],
)
def test_a_bad_new_password_is_refused_naming_the_field_and_nothing_is_recorded(
    viewer_client, viewer, old, new1, new2, field, message
):
    response = _change(viewer_client, old, new1, new2)
    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert message in response.content.decode()
    viewer.refresh_from_db()
    assert viewer.check_password(OLD)
    assert not AdminAction.objects.filter(action="user.password_changed").exists()


def test_anonymous_visitors_are_sent_to_login_for_the_password_page(client):
    response = client.get("/accounts/password/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_django_admins_password_change_goes_to_the_recorded_page(admin_client_):
    response = admin_client_.get("/admin/password_change/")
    assert response.status_code == 302 and response["Location"] == "/accounts/password/"
