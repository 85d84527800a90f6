"""The Identity providers pages: roles, the empty state, add -> detail -> test against a real
authorization server (oidc-provider) with one line per capability, rotate, toggle, sync."""

import pytest
from django.urls import reverse
from django.utils import timezone

from governance.access.models import AdminAction
from governance.idp.models import IdpConnection, IdpSync
from inventory.models import AuthorizationServer, Grant
from tests.ui_factories import T0, small_inventory

pytestmark = pytest.mark.django_db

LIST = "/governance/idp/"


def test_the_empty_list_says_what_a_connection_is_and_how_to_add_one(admin_client_):
    page = admin_client_.get(LIST).content.decode()
    assert "No identity provider is connected yet." in page
    assert "who granted which agent or client which scopes" in page
    assert "manage.py add_idp" in page
    assert reverse("governance:idp_connection_create") in page


def test_viewers_read_but_see_no_admin_buttons(viewer_client, okta_connection):
    assert viewer_client.get(LIST).status_code == 200
    detail = viewer_client.get(f"{LIST}{okta_connection.pk}/").content.decode()
    assert "Acme Okta" in detail and "Rotate credential" not in detail
    assert "Test connection</button>" not in detail
    assert viewer_client.get(f"{LIST}new/").status_code == 403
    assert viewer_client.post(f"{LIST}{okta_connection.pk}/toggle/").status_code == 403


def test_the_add_page_asks_for_the_kind_first_then_shows_its_fields(admin_client_):
    first = admin_client_.get(f"{LIST}new/").content.decode()
    assert 'name="kind" value="okta"' in first and 'name="kind" value="google"' in first
    okta = admin_client_.get(f"{LIST}new/?kind=okta").content.decode()
    assert 'name="config_domain"' in okta and 'name="config_tenant_id"' not in okta
    assert 'type="password" name="secret"' in okta
    assert "okta.users.read" in okta  # the read-only permissions of the kind


def test_a_refused_add_names_the_field_and_never_echoes_the_credential(admin_client_):
    answer = admin_client_.post(
        f"{LIST}new/",
        {
            "kind": "oauth",
            "name": "corp",
            "config_issuer": "not a url",
            "config_client_id": "console",
            "secret": "very-secret-value",
            "sync_interval_minutes": 60,
        },
    )
    page = answer.content.decode()
    assert answer.status_code == 400
    assert "Issuer (issuer): &#x27;not a url&#x27; is not an http(s) URL." in page
    assert "very-secret-value" not in page
    assert not IdpConnection.objects.exists()


# Connectors refuse to run inside a transaction: this test commits for real.
@pytest.mark.django_db(transaction=True)
def test_add_then_test_against_a_real_authorization_server_gives_a_line_per_capability(
    admin_client_, oauth_peer, loopback_allowed
):
    answer = admin_client_.post(
        f"{LIST}new/",
        {
            "kind": "oauth",
            "name": "oidc peer",
            "config_issuer": oauth_peer.config["issuer"],
            "config_client_id": oauth_peer.config["client_id"],
            "config_grants_url": oauth_peer.config["grants_url"],
            "secret": oauth_peer.secret,
            "issuers": "",
            "sync_interval_minutes": 0,
        },
    )
    connection = IdpConnection.objects.get(name="oidc peer")
    assert answer.status_code == 302 and answer["Location"] == f"{LIST}{connection.pk}/"
    assert list(connection.issuers.values_list("issuer", flat=True)) == [
        oauth_peer.config["issuer"]
    ]
    detail = admin_client_.get(answer["Location"]).content.decode()
    assert "Client secret set on" in detail and oauth_peer.secret not in detail

    fragment = admin_client_.post(f"{LIST}{connection.pk}/test/", HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert html.startswith('<div id="idp-test-result">') or 'id="idp-test-result"' in html
    result = IdpConnection.objects.get().last_test_result
    lines = {c["capability"]: c["ok"] for c in result}
    assert lines == {
        "discovery": True,
        "list_identities": False,
        "list_clients": False,
        "list_grants": True,
        "revoke": True,
        "introspect": True,
        "deactivate": False,  # no clients_url given
        # grants_url makes the containment calls possible: each gets its line.
        "revoke_user_client": True,
        "cut_off_identity": True,
        "revoke_client_grants": True,
    }
    assert html.count("<li>") == len(lines)
    assert "set grants_url" not in html  # grants_url is set: listing works
    assert AdminAction.objects.filter(action="idp_connection.tested").count() == 1


# Connectors refuse to run inside a transaction: this test commits for real.
@pytest.mark.django_db(transaction=True)
def test_a_wrong_secret_shows_on_the_lines_it_breaks(admin_client_, oauth_peer, loopback_allowed):
    admin_client_.post(
        f"{LIST}new/",
        {
            "kind": "oauth",
            "name": "wrong",
            "config_issuer": oauth_peer.config["issuer"],
            "config_client_id": oauth_peer.config["client_id"],
            "secret": "not-the-secret",
            "sync_interval_minutes": 0,
        },
    )
    connection = IdpConnection.objects.get(name="wrong")
    admin_client_.post(f"{LIST}{connection.pk}/test/")
    lines = {c["capability"]: c for c in IdpConnection.objects.get().last_test_result}
    assert lines["introspect"]["ok"] is False
    assert "HTTP 401" in lines["introspect"]["detail"]
    assert "not-the-secret" not in str(lines)


def test_rotating_shows_only_the_date_and_a_bad_key_is_a_400(admin_client_, okta_connection):
    bad = admin_client_.post(f"{LIST}{okta_connection.pk}/rotate/", {"secret": "oops"})
    assert bad.status_code == 400 and "PEM private key" in bad.content.decode()
    good = admin_client_.post(
        f"{LIST}{okta_connection.pk}/rotate/",
        {"secret": "-----BEGIN PRIVATE KEY----- AAAA BBBB -----END PRIVATE KEY-----"},
        follow=True,
    )
    page = good.content.decode()
    assert "Credential replaced" in page and "AAAA" not in page
    assert AdminAction.objects.filter(action="idp_connection.secret_rotated").exists()


def test_disabling_stops_syncs_and_enabling_allows_them(admin_client_, okta_connection):
    admin_client_.post(f"{LIST}{okta_connection.pk}/toggle/")
    refused = admin_client_.post(f"{LIST}{okta_connection.pk}/sync/", follow=True)
    assert "is disabled" in refused.content.decode()
    assert not IdpSync.objects.exists()
    admin_client_.post(f"{LIST}{okta_connection.pk}/toggle/")
    started = admin_client_.post(f"{LIST}{okta_connection.pk}/sync/", {"full": "1"})
    sync = IdpSync.objects.get()
    assert started["Location"] == f"{LIST}syncs/{sync.pk}/" and sync.full


def test_a_running_sync_polls_its_progress_and_a_finished_one_stops(admin_client_, okta_connection):
    sync = IdpSync.objects.create(connection=okta_connection, queued_at=T0, status="running")
    fragment = admin_client_.get(f"{LIST}syncs/{sync.pk}/", HTTP_HX_REQUEST="true")
    assert 'hx-trigger="every 2s"' in fragment.content.decode()
    assert "<html" not in fragment.content.decode()
    sync.status, sync.seen = "succeeded", 12
    sync.save()
    page = admin_client_.get(f"{LIST}syncs/{sync.pk}/").content.decode()
    assert "every 2s" not in page and "<dd>12</dd>" in page
    detail = admin_client_.get(f"{LIST}{okta_connection.pk}/").content.decode()
    assert f"#{sync.pk}" in detail


def test_an_authorization_server_page_links_to_a_prefilled_oauth_form(admin_client_):
    auth = AuthorizationServer.objects.create(
        issuer="https://auth.tools.example", first_seen=T0, last_seen=T0
    )
    detail = admin_client_.get(f"/inventory/discovery/oauth/{auth.pk}/").content.decode()
    link = f"{LIST}new/?authorization_server={auth.pk}"
    assert "Connect as IdP" in detail and link in detail
    form = admin_client_.get(link).content.decode()
    assert 'value="https://auth.tools.example"' in form
    assert 'name="kind" value="oauth"' in form


def test_the_list_labels_demo_connections(viewer_client):
    IdpConnection.objects.create(name="Demo Okta", kind="okta", is_demo=True)
    page = viewer_client.get(LIST).content.decode()
    assert "Demo Okta" in page and '<span class="pill warn">demo</span>' in page


def test_a_connection_links_to_the_grants_of_its_issuers(viewer_client, okta_connection):
    inv = small_inventory()
    issuer = inv["grant"].issuer
    okta_connection.issuers.create(issuer=issuer)
    page = viewer_client.get(f"{LIST}{okta_connection.pk}/").content.decode()
    count = Grant.objects.filter(issuer=issuer).count()
    assert count and f"{count} grant{'s' if count != 1 else ''}</a>" in page
    assert "/inventory/grants/?issuer=" in page


def test_without_an_encryption_key_the_add_form_says_which_setting_is_missing(
    admin_client_, settings
):
    settings.FIELD_ENCRYPTION_KEYS = []
    answer = admin_client_.post(
        f"{LIST}new/",
        {
            "kind": "entra",
            "name": "e",
            "config_tenant_id": "t",
            "config_client_id": "c",
            "secret": "s3cret-value",
            "sync_interval_minutes": 60,
        },
    )
    assert answer.status_code == 400
    assert "No FIELD_ENCRYPTION_KEY is configured" in answer.content.decode()
    assert not IdpConnection.objects.exists()


@pytest.mark.django_db
def test_a_sync_that_could_read_nothing_says_so_and_why_per_part(viewer_client, okta_connection):
    reason = "list_grants is not supported by this 'oauth' connection: set grants_url"
    now = timezone.now()
    sync = IdpSync.objects.create(
        connection=okta_connection,
        status=IdpSync.Status.DONE,
        queued_at=now,
        started_at=now,
        finished_at=now,
        summary={
            "grants": {"seen": 0},
            "not_supported": {"identities": "no", "clients": "no", "grants": reason},
            "failed": {},
        },
    )

    page = viewer_client.get(reverse("governance:idp_sync_detail", args=[sync.pk])).content
    text = page.decode()
    assert "This connection could read nothing" in text
    assert f"not read: {reason}".replace("'", "&#x27;") in text


@pytest.mark.django_db
def test_a_connection_without_a_credential_cannot_be_tested_and_says_why(admin_client_):
    demo = IdpConnection.objects.create(
        name="Acme Okta (demo)",
        kind="okta",
        config={"domain": "acme.okta.com", "client_id": "0oa-demo"},
        is_demo=True,
        enabled=False,
    )
    page = admin_client_.get(reverse("governance:idp_connection_detail", args=[demo.pk]))
    text = page.content.decode()
    assert 'disabled title="Set a credential first' in text
    assert "No credential is set" in text
