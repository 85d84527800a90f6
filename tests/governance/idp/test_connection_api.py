"""The IdP API: connections without any credential field, syncs with counts, the Admin-only
sync action, and the declared filters."""

import pytest

from governance.idp.models import IdpSync
from tests.ui_factories import T0

pytestmark = pytest.mark.django_db


def test_a_connection_answer_has_no_credential_field(viewer_client, okta_connection):
    body = viewer_client.get(f"/api/v1/idp-connections/{okta_connection.pk}/").json()
    assert body["name"] == "Acme Okta" and body["credential_set"] is True
    assert body["issuers"] == ["https://acme.okta.com/oauth2/default"]
    assert not {key for key in body if "secret" in key and key != "secret_set_at"}
    text = viewer_client.get("/api/v1/idp-connections/").content.decode()
    assert okta_connection.secret_encrypted[:20] not in text and "PRIVATE KEY" not in text


def test_connections_filter_by_kind_and_refuse_an_unknown_filter(viewer_client, okta_connection):
    assert viewer_client.get("/api/v1/idp-connections/?kind=okta").json()["count"] == 1
    assert viewer_client.get("/api/v1/idp-connections/?kind=entra").json()["count"] == 0
    assert viewer_client.get("/api/v1/idp-connections/?q=acme.okta").json()["count"] == 1
    bad = viewer_client.get("/api/v1/idp-connections/?kind=ping")
    assert bad.status_code == 400 and "kind" in bad.json()
    assert viewer_client.get("/api/v1/idp-connections/?tenant=x").status_code == 400


def test_syncs_show_status_counts_and_errors(viewer_client, okta_connection):
    IdpSync.objects.create(
        connection=okta_connection,
        queued_at=T0,
        status="failed",
        seen=5,
        created=3,
        vanished=1,
        errors=1,
        error_log=[{"at": T0.isoformat(), "message": "list_grants failed (HTTP 403)"}],
    )
    body = viewer_client.get(f"/api/v1/idp-syncs/?connection={okta_connection.pk}").json()
    (row,) = body["results"]
    assert (row["status"], row["seen"], row["created"], row["vanished"]) == ("failed", 5, 3, 1)
    assert row["connection_name"] == "Acme Okta"
    assert row["error_log"][0]["message"] == "list_grants failed (HTTP 403)"
    assert viewer_client.get("/api/v1/idp-syncs/?status=running").json()["count"] == 0


def test_only_an_admin_starts_a_sync_and_gets_202_with_it(
    viewer_client, okta_connection, admin_user, client
):
    url = f"/api/v1/idp-connections/{okta_connection.pk}/sync/"
    assert viewer_client.post(url, {"full": True}, content_type="application/json").status_code == (
        403
    )
    assert not IdpSync.objects.exists()
    client.force_login(admin_user)
    answer = client.post(url, {"full": True}, content_type="application/json")
    assert answer.status_code == 202
    sync = IdpSync.objects.get()
    assert answer.json()["id"] == sync.pk and sync.full and answer.json()["status"] == "queued"


def test_syncing_a_disabled_connection_is_a_400_saying_so(admin_client_, okta_connection):
    okta_connection.enabled = False
    okta_connection.save()
    answer = admin_client_.post(
        f"/api/v1/idp-connections/{okta_connection.pk}/sync/", content_type="application/json"
    )
    assert answer.status_code == 400 and "disabled" in answer.json()["connection"][0]
