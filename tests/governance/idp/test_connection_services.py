"""The connection services: config checked per kind with messages naming the field, the
credential encrypted at rest and never in a record, rotation, issuer links, enable/disable."""

import pathlib

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import connection as db

from governance.access import secrets
from governance.access.models import AdminAction
from governance.demo import seed_demo_connections
from governance.idp import connections, kinds
from governance.idp.models import IdpConnection, IdpIssuer
from tests.governance.idp.conftest import OKTA_KEY

pytestmark = pytest.mark.django_db


def _add(actor, **overrides):
    options = {
        "actor": actor,
        "kind": "entra",
        "name": "Corp Entra",
        "config": {"tenant_id": "t-1", "client_id": "c-1"},
        "secret": "entra-client-secret-value",
        "issuers": [],
    }
    return connections.add_connection(**{**options, **overrides})


def _errors(excinfo) -> dict:
    return excinfo.value.message_dict


def test_a_missing_required_setting_is_named_with_its_label(admin_user):
    with pytest.raises(ValidationError) as excinfo:
        _add(admin_user, config={"tenant_id": "t-1"})
    assert _errors(excinfo) == {"client_id": ["Application (client) ID (client_id) is required."]}


def test_an_unknown_setting_is_refused_and_the_kinds_settings_listed(admin_user):
    with pytest.raises(ValidationError) as excinfo:
        _add(admin_user, config={"tenant_id": "t", "client_id": "c", "tenant": "x"})
    message = _errors(excinfo)["tenant"][0]
    assert "'tenant' is not a setting of a Microsoft Entra ID connection" in message
    assert "tenant_id, client_id" in message


def test_a_url_setting_must_be_an_http_url(admin_user):
    with pytest.raises(ValidationError) as excinfo:
        _add(admin_user, kind="oauth", config={"issuer": "auth.example", "client_id": "c"})
    assert _errors(excinfo)["issuer"] == ["Issuer (issuer): 'auth.example' is not an http(s) URL."]


def test_an_okta_domain_is_a_host_name(admin_user):
    with pytest.raises(ValidationError) as excinfo:
        _add(
            admin_user,
            kind="okta",
            config={"domain": "https://acme.okta.com", "client_id": "0oa"},
            secret=OKTA_KEY,
        )
    assert "no https://" in _errors(excinfo)["domain"][0]


def test_an_unknown_kind_names_the_known_ones(admin_user):
    with pytest.raises(ValidationError) as excinfo:
        _add(admin_user, kind="ping")
    assert "okta, entra, keycloak, auth0, google, oauth" in _errors(excinfo)["kind"][0]


def test_an_okta_credential_must_be_a_pem_key_and_the_error_does_not_repeat_it(admin_user):
    with pytest.raises(ValidationError) as excinfo:
        _add(
            admin_user,
            kind="okta",
            config={"domain": "acme.okta.com", "client_id": "0oa"},
            secret="hunter2-not-a-key",
        )
    assert "PEM private key" in _errors(excinfo)["secret"][0]
    assert "hunter2" not in str(excinfo.value)


def test_a_google_credential_must_be_a_service_account_json_key(admin_user):
    with pytest.raises(ValidationError) as excinfo:
        _add(admin_user, kind="google", config={"admin_email": "a@x.example"}, secret="{}")
    assert "client_email and private_key" in _errors(excinfo)["secret"][0]


def test_the_database_column_never_holds_the_credential(admin_user):
    conn = _add(admin_user)
    with db.cursor() as cursor:
        cursor.execute("SELECT * FROM governance_idpconnection WHERE id = %s", [conn.pk])
        row = " ".join(str(value) for value in cursor.fetchone())
    assert "entra-client-secret-value" not in row
    assert secrets.decrypt(IdpConnection.objects.get(pk=conn.pk).secret_encrypted) == (
        "entra-client-secret-value"
    )
    assert conn.secret_set_at is not None


def test_the_records_mask_the_credential(admin_user, okta_connection):
    connections.rotate_secret(
        actor=admin_user, connection=okta_connection, secret=OKTA_KEY.replace("not", "new")
    )
    created, rotated = AdminAction.objects.order_by("id")
    assert created.action == "idp_connection.created"
    assert created.after["secret"] == "[hidden]"
    assert created.after["config"] == {"domain": "acme.okta.com", "client_id": "0oa1"}
    assert rotated.action == "idp_connection.secret_rotated"
    assert (rotated.before["secret"], rotated.after["secret"]) == ("[hidden]", "[hidden, changed]")
    stored = IdpConnection.objects.get(pk=okta_connection.pk).secret_encrypted
    for record in (created, rotated):
        text = str(record.before) + str(record.after)
        assert "PRIVATE KEY" not in text and stored[:20] not in text


def test_rotating_replaces_the_credential_and_its_date(admin_user, okta_connection):
    old = (okta_connection.secret_encrypted, okta_connection.secret_set_at)
    new_key = OKTA_KEY.replace("not-a-real", "rotated")
    rotated = connections.rotate_secret(
        actor=admin_user, connection=okta_connection, secret=new_key
    )
    assert secrets.decrypt(rotated.secret_encrypted) == new_key
    assert rotated.secret_encrypted != old[0] and rotated.secret_set_at > old[1]


def test_secrets_encrypted_with_an_older_key_still_decrypt_after_a_key_rotation(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    token = secrets.encrypt("s3cret")
    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    assert secrets.decrypt(token) == "s3cret"
    rotated = secrets.rotate(token)
    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert secrets.decrypt(rotated) == "s3cret"
    with pytest.raises(secrets.SecretUnreadable) as excinfo:
        secrets.decrypt(token)
    assert "s3cret" not in str(excinfo.value)


def test_without_an_encryption_key_storing_a_secret_says_which_setting_is_missing(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEY"):
        secrets.encrypt("s3cret")


def test_an_issuer_linked_to_another_connection_is_refused_naming_it(admin_user, okta_connection):
    with pytest.raises(ValidationError) as excinfo:
        _add(admin_user, issuers=["https://acme.okta.com/oauth2/default"])
    assert _errors(excinfo)["issuers"] == [
        "https://acme.okta.com/oauth2/default is already linked to the connection 'Acme Okta'."
    ]
    assert not IdpConnection.objects.filter(name="Corp Entra").exists()


def test_a_connection_without_issuers_answers_for_its_kinds_usual_issuer(admin_user):
    conn = _add(admin_user)
    assert list(conn.issuers.values_list("issuer", flat=True)) == [
        "https://login.microsoftonline.com/t-1/v2.0"
    ]


def test_an_issuer_resolves_to_its_connection_with_or_without_a_trailing_slash(
    admin_user, okta_connection
):
    assert connections.connection_for_issuer("https://acme.okta.com/oauth2/default/") == (
        okta_connection
    )
    assert connections.connection_for_issuer("https://other.example") is None


def test_updating_replaces_the_issuers_and_records_before_and_after(admin_user, okta_connection):
    connections.update_connection(
        actor=admin_user,
        connection=okta_connection,
        issuers=["https://acme.okta.com"],
        sync_interval_minutes=0,
    )
    assert list(IdpIssuer.objects.values_list("issuer", flat=True)) == ["https://acme.okta.com"]
    record = AdminAction.objects.get(action="idp_connection.updated")
    assert record.before["issuers"] == ["https://acme.okta.com/oauth2/default"]
    assert record.after["issuers"] == ["https://acme.okta.com"]
    assert record.after["sync_interval_minutes"] == 0


def test_a_duplicate_name_is_a_validation_error(admin_user, okta_connection):
    with pytest.raises(ValidationError) as excinfo:
        _add(admin_user, name="Acme Okta")
    assert "already exists" in _errors(excinfo)["name"][0]


def test_a_sync_interval_below_the_minimum_is_refused(admin_user):
    with pytest.raises(ValidationError) as excinfo:
        _add(admin_user, sync_interval_minutes=1)
    assert "sync_interval_minutes" in _errors(excinfo)


def test_disabling_and_enabling_are_recorded_once_each(admin_user, okta_connection):
    connections.set_enabled(actor=admin_user, connection=okta_connection, enabled=False)
    connections.set_enabled(actor=admin_user, connection=okta_connection, enabled=False)
    connections.set_enabled(actor=admin_user, connection=okta_connection, enabled=True)
    actions = list(
        AdminAction.objects.filter(action__startswith="idp_connection.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "idp_connection.created",
        "idp_connection.disabled",
        "idp_connection.enabled",
    ]


def test_testing_a_connection_without_a_credential_says_so(admin_user):
    demo = IdpConnection.objects.create(name="demo", kind="okta", is_demo=True)
    checks = connections.test_connection(actor=admin_user, connection=demo)
    assert [(c.capability, c.ok) for c in checks] == [("credential", False)]
    assert "demo connection" in checks[0].detail
    assert IdpConnection.objects.get(pk=demo.pk).last_test_result[0]["ok"] is False


def test_an_authorization_server_becomes_an_oauth_connection_form(okta_connection):
    class Found:
        issuer = "https://auth.tools.example/"

    initial = connections.prefill_from_authorization_server(Found())
    assert initial["kind"] == "oauth"
    assert initial["config"] == {"issuer": "https://auth.tools.example"}
    assert initial["issuers"] == ["https://auth.tools.example/"]
    assert initial["name"] == "auth.tools.example"


def test_every_kind_of_the_model_is_described():
    assert list(kinds.KINDS) == [value for value, _ in IdpConnection.Kind.choices]
    for kind in kinds.KINDS.values():
        assert kind.sync_permissions and kind.revoke_permissions


def test_the_demo_connections_are_labelled_and_hold_the_demo_grants_issuers():
    okta, entra = seed_demo_connections()
    seed_demo_connections()  # a second run changes nothing
    assert IdpConnection.objects.count() == 2 and IdpIssuer.objects.count() == 2
    assert okta.is_demo and not okta.secret_encrypted and not okta.enabled
    assert connections.connection_for_issuer("https://acme.okta.com/oauth2/default") == okta
    issuer = connections.connection_for_issuer(
        "https://login.microsoftonline.com/7d3c1b5e-2f4a-4c8e-9a61-5b0e8f2d4c19/v2.0"
    )
    assert issuer == entra and entra.kind == "entra"


def test_a_demo_issuer_already_held_by_a_real_connection_stays_with_it(admin_user):
    real = _add(
        admin_user,
        kind="okta",
        name="Real Okta",
        secret=OKTA_KEY,
        config={"domain": "acme.okta.com", "client_id": "0oa"},
        issuers=["https://acme.okta.com/oauth2/default"],
    )
    seed_demo_connections()
    assert connections.connection_for_issuer("https://acme.okta.com/oauth2/default") == real


def test_the_docs_name_every_permission_and_setting_of_every_kind():
    docs = (pathlib.Path(__file__).resolve().parents[3] / "docs" / "idp.md").read_text()
    for kind in kinds.KINDS.values():
        assert f"### {kind.label}" in docs or f"(`{kind.name}`)" in docs
        for permission in (*kind.sync_permissions, *kind.revoke_permissions):
            assert permission in docs, f"{kind.name}: {permission}"
        for field in kind.fields:
            assert f"`{field.name}`" in docs, f"{kind.name}: {field.name}"
