"""An Admin sets an event source's cancel hook from its page or the API: the URL is checked
(https, no credentials, no private address unless allow-listed), the signing secret is shown
once and stored encrypted, and the change is recorded."""

import pytest

from audit.models import EventSource
from audit.services.sources import create_source
from governance.models import AdminAction

pytestmark = pytest.mark.django_db


@pytest.fixture
def source():
    return create_source(name="gw-hookable")[0]


def api(source) -> str:
    return f"/api/v1/event-sources/{source.pk}/cancel-hook/"


def test_an_admin_sets_the_hook_through_the_api_and_sees_the_secret_once(admin_client_, source):
    answer = admin_client_.post(
        api(source), {"url": "https://gw.example.com/hooks/cancel"}, content_type="application/json"
    )
    assert answer.status_code == 200 and answer["Cache-Control"] == "no-store"
    secret = answer.json()["secret"]
    assert secret.startswith("whsec_")
    assert answer.json()["cancel_hook_url"] == "https://gw.example.com/hooks/cancel"

    listed = admin_client_.get(f"/api/v1/event-sources/{source.pk}/").json()
    assert listed["cancel_hook_url"] == "https://gw.example.com/hooks/cancel"
    assert listed["cancel_hook_signed"] is True
    assert secret not in str(listed) and "secret" not in listed
    action = AdminAction.objects.get(action="eventsource.cancel_hook_set")
    assert action.after["cancel_hook_url"] == "https://gw.example.com/hooks/cancel"

    assert admin_client_.delete(api(source)).status_code == 204
    source.refresh_from_db()
    assert source.cancel_hook_url == "" and source.cancel_hook_secret_encrypted == ""


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("", "blank"),
        ("ftp://gw.example.com/x", "https"),
        ("http://gw.example.com/hooks", "https"),
        ("https://user:pw@gw.example.com/hooks", "credentials"),
        ("https://10.1.2.3/hooks", "private"),
        ("https://[::1]/hooks", "loopback"),
        ("https://" + "a" * 1000 + ".example.com/", "1000"),
    ],
)
def test_a_url_the_console_will_not_call_is_a_400_naming_the_field(
    admin_client_, source, url, says
):
    answer = admin_client_.post(api(source), {"url": url}, content_type="application/json")
    assert answer.status_code == 400
    assert says in " ".join(answer.json()["url"])
    assert EventSource.objects.get(pk=source.pk).cancel_hook_url == ""


def test_plain_http_to_an_allow_listed_loopback_is_accepted_for_labs(
    admin_client_, source, settings
):
    settings.FETCH_ALLOWLIST = ["127.0.0.1"]
    answer = admin_client_.post(
        api(source), {"url": "http://127.0.0.1:9999/cancel"}, content_type="application/json"
    )
    assert answer.status_code == 200


def test_only_admins_set_a_hook(viewer_client, auditor_client, source):
    for client in (viewer_client, auditor_client):
        answer = client.post(api(source), {"url": "https://gw.example.com/x"})
        assert answer.status_code == 403


def test_the_source_page_sets_the_hook_and_shows_the_secret_only_on_the_answer(
    admin_client_, source
):
    page = f"/audit/sources/{source.pk}/"
    assert "No cancel hook" in admin_client_.get(page).content.decode()

    bad = admin_client_.post(f"{page}cancel-hook/", {"url": "http://gw.example.com/x"})
    assert bad.status_code == 400 and "must be https" in bad.content.decode()

    shown = admin_client_.post(f"{page}cancel-hook/", {"url": "https://gw.example.com/cancel"})
    assert shown.status_code == 200 and shown["Cache-Control"] == "no-store"
    body = shown.content.decode()
    secret = body.split('<pre class="token">')[1].split("</pre>")[0]
    assert secret.startswith("whsec_")

    again = admin_client_.get(page).content.decode()
    assert "https://gw.example.com/cancel" in again and secret not in again

    removed = admin_client_.post(f"{page}cancel-hook-remove/")
    assert removed.status_code == 302
    assert EventSource.objects.get(pk=source.pk).cancel_hook_url == ""
