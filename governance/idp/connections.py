"""The IdP connection services: add, change, rotate the credential, enable or disable, test.

Each one writes its admin-action record in its own transaction, with the credential masked (the
record says only that it was set or changed). The credential is encrypted before it reaches the
database (governance.access.secrets) and decrypted only to build a connector, in
`test_connection` here and in the sync runner.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.access import secrets
from governance.access.records import record_admin_action
from governance.connectors import Check, ConnectorError, connector_for
from governance.idp import kinds
from governance.idp.models import IdpConnection, IdpIssuer

MIN_SYNC_INTERVAL_MINUTES = 5


def add_connection(
    *,
    actor,
    kind: str,
    name: str,
    config: dict,
    secret: str,
    issuers: Iterable[str] = (),
    sync_interval_minutes: int = 60,
    request=None,
) -> IdpConnection:
    """Add a connection: its config checked, its credential encrypted, its issuers linked (the
    kind's usual issuer when none is given)."""
    config = kinds.validate_config(kind, config)
    secret = kinds.validate_secret(kind, secret, config=config)
    issuers = clean_issuers(issuers) or _default_issuers(kind, config)
    with transaction.atomic():
        connection = IdpConnection(
            name=_clean_name(name),
            kind=kind,
            config=config,
            secret_encrypted=_encrypt(secret),
            secret_set_at=timezone.now(),
            sync_interval_minutes=clean_sync_interval(sync_interval_minutes),
        )
        _save(connection)
        _link_issuers(connection, issuers)
        record_admin_action(
            actor=actor,
            action="idp_connection.created",
            obj=connection,
            after=snapshot(connection),
            request=request,
        )
    return connection


def update_connection(
    *,
    actor,
    connection: IdpConnection,
    name: str | None = None,
    config: dict | None = None,
    issuers: Iterable[str] | None = None,
    sync_interval_minutes: int | None = None,
    request=None,
) -> IdpConnection:
    """Change what is given of a connection's name, config, issuers and sync interval (the
    kind stays; the credential changes through `rotate_secret`)."""
    with transaction.atomic():
        connection = IdpConnection.objects.select_for_update().get(pk=connection.pk)
        before = snapshot(connection)
        if name is not None:
            connection.name = _clean_name(name)
        if config is not None:
            connection.config = kinds.validate_config(connection.kind, config)
        if sync_interval_minutes is not None:
            connection.sync_interval_minutes = clean_sync_interval(sync_interval_minutes)
        _save(connection)
        if issuers is not None:
            _link_issuers(connection, clean_issuers(issuers), replace=True)
        record_admin_action(
            actor=actor,
            action="idp_connection.updated",
            obj=connection,
            before=before,
            after=snapshot(connection),
            request=request,
        )
    return connection


@transaction.atomic
def rotate_secret(*, actor, connection: IdpConnection, secret: str, request=None):
    """Replace the connection's credential (encrypted with the newest key)."""
    secret = kinds.validate_secret(connection.kind, secret, config=connection.config)
    connection = IdpConnection.objects.select_for_update().get(pk=connection.pk)
    before = snapshot(connection)
    connection.secret_encrypted = _encrypt(secret)
    connection.secret_set_at = timezone.now()
    connection.save(update_fields=["secret_encrypted", "secret_set_at", "updated_at"])
    record_admin_action(
        actor=actor,
        action="idp_connection.secret_rotated",
        obj=connection,
        before=before,
        after=snapshot(connection),
        request=request,
    )
    return connection


@transaction.atomic
def set_enabled(*, actor, connection: IdpConnection, enabled: bool, request=None):
    """Enable or disable a connection (a disabled one is not synced, by beat or by hand)."""
    connection = IdpConnection.objects.select_for_update().get(pk=connection.pk)
    if connection.enabled == enabled:
        return connection
    before = snapshot(connection)
    connection.enabled = enabled
    connection.save(update_fields=["enabled", "updated_at"])
    record_admin_action(
        actor=actor,
        action="idp_connection.enabled" if enabled else "idp_connection.disabled",
        obj=connection,
        before=before,
        after=snapshot(connection),
        request=request,
    )
    return connection


def test_connection(*, actor, connection: IdpConnection, request=None) -> list[Check]:
    """One harmless call per capability (the connector's `verify()`), made outside any
    transaction; the result is stored on the connection and recorded."""
    checks = _verify(connection)
    with transaction.atomic():
        connection.last_test_at = timezone.now()
        connection.last_test_result = [
            {"capability": c.capability, "ok": c.ok, "detail": c.detail} for c in checks
        ]
        connection.save(update_fields=["last_test_at", "last_test_result", "updated_at"])
        record_admin_action(
            actor=actor,
            action="idp_connection.tested",
            obj=connection,
            after={"checks": connection.last_test_result},
            request=request,
        )
    return checks


# Keep pytest from collecting the service as a test when a test module imports it.
test_connection.__test__ = False


def _verify(connection: IdpConnection) -> list[Check]:
    if not connection.secret_encrypted:
        why = "demo connection: it has no credential" if connection.is_demo else "no credential"
        return [Check("credential", False, f"{why}; rotate the credential to set one")]
    try:
        secret = secrets.decrypt(connection.secret_encrypted)
        return connector_for(connection.kind, connection.config, secret).verify()
    except (ConnectorError, secrets.SecretUnreadable) as exc:
        return [Check("configure", False, str(exc))]


@transaction.atomic
def ensure_demo_connection(*, kind: str, name: str, config: dict, issuers: list[str]):
    """The demo data's connection `name` (is_demo, no credential, never synced), linked to the
    demo issuers no other connection holds. Running it again changes nothing."""
    connection, _ = IdpConnection.objects.get_or_create(
        name=name,
        defaults={
            "kind": kind,
            "config": kinds.validate_config(kind, config),
            "is_demo": True,
            # No credential: beat must never try it and the pages say why it cannot sync.
            "enabled": False,
            "sync_interval_minutes": 0,
        },
    )
    if not connection.is_demo:
        return connection  # a real connection of that name: leave it alone
    for issuer in issuers:
        IdpIssuer.objects.bulk_create(
            [IdpIssuer(connection=connection, issuer=issuer)], ignore_conflicts=True
        )
    return connection


def connection_for_issuer(issuer: str) -> IdpConnection | None:
    """The connection that answers for `issuer` (a trailing slash does not matter), or None."""
    issuer = (issuer or "").strip()
    if not issuer:
        return None
    forms = {issuer, issuer.rstrip("/"), issuer.rstrip("/") + "/"}
    link = IdpIssuer.objects.select_related("connection").filter(issuer__in=forms).first()
    return link.connection if link else None


def prefill_from_authorization_server(auth_server) -> dict:
    """The add form's initial data for an authorization server the crawls found through a
    server's protected-resource metadata: an `oauth` connection with its issuer filled."""
    issuer = auth_server.issuer.rstrip("/")
    host = issuer.split("://", 1)[-1].split("/", 1)[0]
    return {
        "kind": IdpConnection.Kind.OAUTH,
        "name": _unused_name(host or "authorization server"),
        "config": {"issuer": issuer},
        "issuers": [auth_server.issuer],
    }


def snapshot(connection: IdpConnection) -> dict:
    """What the admin-action record keeps: `secret` is masked by the record (set or changed)."""
    return {
        "name": connection.name,
        "kind": connection.kind,
        "config": connection.config,
        "issuers": sorted(connection.issuers.values_list("issuer", flat=True))
        if connection.pk
        else [],
        "enabled": connection.enabled,
        "sync_interval_minutes": connection.sync_interval_minutes,
        "secret": connection.secret_encrypted,
        "secret_set_at": connection.secret_set_at,
    }


def clean_issuers(issuers: Iterable[str]) -> list[str]:
    """Issuers stripped, blanks dropped, duplicates once; ValidationError for a non-URL."""
    cleaned = []
    for issuer in issuers or ():
        issuer = (issuer or "").strip()
        if not issuer or issuer in cleaned:
            continue
        if not issuer.startswith(("https://", "http://")) or len(issuer) > 300:
            raise ValidationError({"issuers": f"{issuer[:80]!r} is not an issuer URL."})
        cleaned.append(issuer)
    return cleaned


def clean_sync_interval(minutes) -> int:
    """0 (sync only when asked) or at least MIN_SYNC_INTERVAL_MINUTES."""
    try:
        minutes = int(minutes)
    except (TypeError, ValueError):
        raise ValidationError({"sync_interval_minutes": "A whole number of minutes."}) from None
    if minutes != 0 and not MIN_SYNC_INTERVAL_MINUTES <= minutes <= 7 * 24 * 60:
        raise ValidationError(
            {
                "sync_interval_minutes": "0 (only when asked) or between "
                f"{MIN_SYNC_INTERVAL_MINUTES} and {7 * 24 * 60} minutes."
            }
        )
    return minutes


def _encrypt(secret: str) -> str:
    """The credential encrypted; no key configured is the form's error, not a 500."""
    try:
        return secrets.encrypt(secret)
    except ImproperlyConfigured as exc:
        raise ValidationError({"secret": str(exc)}) from None


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": "A name is required."})
    if len(name) > 100:
        raise ValidationError({"name": "At most 100 characters."})
    return name


def _unused_name(base: str) -> str:
    name, n = base[:90], 1
    while IdpConnection.objects.filter(name=name).exists():
        n += 1
        name = f"{base[:90]} ({n})"
    return name


def _default_issuers(kind: str, config: dict) -> list[str]:
    issuer = kinds.default_issuer(kind, config)
    return [issuer] if issuer else []


def _save(connection: IdpConnection) -> None:
    """Save; a name another connection has is a ValidationError (the unique index decides)."""
    try:
        with transaction.atomic():  # a savepoint: the failed INSERT must not end the outer one
            connection.save()
    except IntegrityError:
        raise ValidationError(
            {"name": f"A connection named {connection.name!r} already exists."}
        ) from None


def _link_issuers(connection: IdpConnection, issuers: list[str], *, replace=False) -> None:
    """Link the issuers; one that another connection answers for is a ValidationError naming
    that connection (the unique index on IdpIssuer.issuer decides; this only names it)."""
    if replace:
        connection.issuers.exclude(issuer__in=issuers).delete()
    for issuer in issuers:
        try:
            with transaction.atomic():
                IdpIssuer.objects.get_or_create(connection=connection, issuer=issuer)
        except IntegrityError:
            holder = IdpIssuer.objects.select_related("connection").filter(issuer=issuer).first()
            owner = holder.connection.name if holder else "another connection"
            raise ValidationError(
                {"issuers": f"{issuer} is already linked to the connection {owner!r}."}
            ) from None
