"""`manage.py add_idp`: settings from --config, the credential from stdin or a file only, the
record naming the command, and refusals that name the field."""

import io

import pytest
from django.core.management import CommandError, call_command

from governance.access import secrets
from governance.access.models import AdminAction
from governance.idp.models import IdpConnection

pytestmark = pytest.mark.django_db


def _run(*args, stdin="", monkeypatch=None):
    if monkeypatch is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    out = io.StringIO()
    call_command("add_idp", *args, stdout=out)
    return out.getvalue()


def test_adding_from_stdin_stores_the_credential_encrypted_and_records_the_command(monkeypatch):
    out = _run(
        "keycloak",
        "Corp Keycloak",
        "--config",
        "base_url=https://sso.corp.example",
        "--config",
        "realm=eng",
        "--config",
        "client_id=console",
        "--secret-stdin",
        stdin="kc-secret\n",
        monkeypatch=monkeypatch,
    )
    connection = IdpConnection.objects.get()
    assert "issuers: https://sso.corp.example/realms/eng" in out and "kc-secret" not in out
    assert secrets.decrypt(connection.secret_encrypted) == "kc-secret"
    record = AdminAction.objects.get(action="idp_connection.created")
    assert "(manage.py add_idp)" in record.actor_repr and record.after["secret"] == "[hidden]"


def test_a_secret_file_works_and_issuers_are_taken_as_given(tmp_path):
    key = tmp_path / "secret.txt"
    key.write_text("entra-secret")
    _run(
        "entra",
        "Corp Entra",
        "--config",
        "tenant_id=t1",
        "--config",
        "client_id=c1",
        "--issuer",
        "https://login.microsoftonline.com/t1/v2.0",
        "--issuer",
        "https://sts.windows.net/t1/",
        "--secret-file",
        str(key),
    )
    assert sorted(IdpConnection.objects.get().issuers.values_list("issuer", flat=True)) == [
        "https://login.microsoftonline.com/t1/v2.0",
        "https://sts.windows.net/t1/",
    ]


def test_without_a_credential_source_it_refuses_and_adds_nothing():
    with pytest.raises(CommandError, match="--secret-stdin"):
        _run("auth0", "a0", "--config", "domain=acme.auth0.com", "--config", "client_id=c")
    assert not IdpConnection.objects.exists()


def test_a_bad_setting_is_refused_naming_it(monkeypatch):
    with pytest.raises(CommandError) as excinfo:
        _run(
            "auth0",
            "a0",
            "--config",
            "domain=acme.auth0.com",
            "--secret-stdin",
            stdin="s",
            monkeypatch=monkeypatch,
        )
    assert "client_id: Client ID (client_id) is required." in str(excinfo.value)


def test_the_command_takes_no_secret_argument():
    with pytest.raises(CommandError):
        _run("oauth", "x", "--secret", "in-argv")
