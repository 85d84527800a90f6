"""IdP syncs: start one (a job row; Celery carries its id) and run it.

`start_sync` is what the console, the API, `manage.py sync_idp` and beat call. The runner
(`run_sync`) reads the connection's identities, clients and grants through its connector and
writes them through inventory's services.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from governance.access import secrets
from governance.access.records import record_admin_action
from governance.connectors import (
    Connector,
    ConnectorError,
    NotSupported,
    StateExpired,
    connector_for,
    transport,
)
from governance.connectors.base import IdpClient, IdpGrant, IdpIdentity
from governance.findings.tasks import run_rules
from governance.idp.models import IdpConnection, IdpSync
from governance.platform import jobs
from inventory.models import Grant, Identity
from inventory.services import ledger


class ConnectionDisabled(ValueError):
    """A sync was asked of a disabled connection."""


def start_sync(
    *,
    connection: IdpConnection,
    full: bool = False,
    actor=None,
    request=None,
    requested_by="",
    enqueue: bool = True,
) -> IdpSync:
    """Queue a sync of `connection`, or return its open one; the task is sent after commit
    (`enqueue=False`: the caller runs it inline, as `manage.py sync_idp` does)."""
    if not connection.enabled:
        raise ConnectionDisabled(f"{connection.name} is disabled: enable it to sync")
    with transaction.atomic():
        sync, created = jobs.open_job(
            IdpSync,
            connection=connection,
            full=full,
            options={"full": full},
            requested_by=requested_by or (actor.get_username() if actor else "system"),
        )
        if created:
            if actor is not None:
                record_admin_action(
                    actor=actor,
                    action="idp_sync.started",
                    obj=sync,
                    after={"connection": connection.name, "full": full},
                    request=request,
                )
            if enqueue:
                transaction.on_commit(lambda: jobs.enqueue(sync))
    return sync


def start_due_syncs(*, now: datetime | None = None) -> list[IdpSync]:
    """Beat's tick: a sync of every enabled connection whose sync_interval_minutes has passed
    since its last sync was queued (0 = never by beat). An open sync is returned, not doubled."""
    now = now or timezone.now()
    due = []
    candidates = IdpConnection.objects.filter(enabled=True, sync_interval_minutes__gt=0).annotate(
        last_queued=Max("syncs__queued_at")
    )
    for connection in candidates.filter(Q(last_queued__isnull=True) | Q(last_queued__lt=now)):
        last = connection.last_queued
        if last is None or last <= now - timedelta(minutes=connection.sync_interval_minutes):
            due.append(start_sync(connection=connection, requested_by="beat"))
    return due


# --- the runner ------------------------------------------------------------------------------

PARTS = ("identities", "clients", "grants")
ANALYZE_FIRST_AT = 1000  # inserted rows before the first ANALYZE (then each time they double)
_GRANT_TYPES = frozenset(Grant.GrantType.values)
_IDENTITY_KINDS = frozenset(Identity.Kind.values)
# Column widths (inventory/models/core.py): a longer value is a malformed record, not a crash.
_MAX = {"subject": 300, "external_id": 300, "client_id": 500, "scope": 200, "email": 300}


class Malformed(ValueError):
    """One record the ledger cannot hold: skipped and reported, the rest of the page synced."""


class SyncIncomplete(RuntimeError):
    """A part of the sync failed at the IdP; what was read before the failure is kept."""


def connection_issuer(connection: IdpConnection) -> str:
    """The issuer a connection's grants and identities are recorded under: its configured
    `issuer`, else the first issuer linked to it, else a name of its own."""
    configured = str(connection.config.get("issuer") or "").rstrip("/")
    if configured:
        return configured
    linked = connection.issuers.order_by("issuer").values_list("issuer", flat=True).first()
    return linked or f"idp:{connection.name}"


def run_sync(sync: IdpSync, progress: jobs.Progress) -> None:
    """The runner: read the IdP through its connector, page by page, and write the ledger."""
    connection = sync.connection
    secret = secrets.decrypt(connection.secret_encrypted) if connection.secret_encrypted else ""
    connector = connector_for(connection.kind, connection.config, secret)
    run = _Run(sync, progress, connection_issuer(connection))
    issuers = sorted({run.issuer, *connection.issuers.values_list("issuer", flat=True)})
    state = None
    with transport.retrying(_policy(run)):
        run.part("identities", connector.list_identities, _identity_row, run.write_identities)
        run.link_identities()
        run.part("clients", connector.list_clients, _client_row, run.write_clients)
        if connector.supports_incremental:
            state = _grant_changes(run, connector, connection, issuers)
        else:
            run.known = ledger.KnownGrants.load(issuers=issuers, at=run.started)
            if run.part("grants", connector.list_grants, run.grant_row, run.write_grants):
                # A listing that finished is the IdP's whole truth: what it did not list is what
                # `known` still holds, and that vanished.
                vanished = ledger.mark_vanished(known=run.known, at=run.started)
                run.counts["grants"].vanished += vanished
    run.save()
    if run.failed:
        raise SyncIncomplete("; ".join(f"{part}: {why}" for part, why in run.failed.items()))
    if state is not None:  # only now: an interrupted sync reads the same changes again
        connection.sync_state = {**connection.sync_state, "grants": state}
        IdpConnection.objects.filter(pk=connection.pk).update(sync_state=connection.sync_state)
    # What a sync changes (identities disabled, grants new or gone) is what the inventory rules
    # read: run them once it is committed rather than at the next beat.
    transaction.on_commit(run_rules.delay)


def _grant_changes(
    run: _Run, connector: Connector, connection: IdpConnection, issuers: list[str]
) -> str | None:
    """The grants part for a connector that reads changes: only what changed since the stored
    state, or every grant when the sync is full, there is no state or the IdP forgot it. Returns
    the state to store, None when the part failed."""
    state = "" if run.sync.full else str(connection.sync_state.get("grants") or "")
    try:
        try:
            changes = connector.grant_changes(state)
        except StateExpired:  # not a failure: the IdP asks for a full round
            run.grants_read = "all: the stored state had expired"
            state, changes = "", connector.grant_changes("")
    except ConnectorError as exc:
        run.failed["grants"] = str(exc)
        run.progress.error(f"grants: {exc}")
        return None
    if state:
        run.grants_read = "changes"

    def listing():
        yield from changes.changed
        yield from connector.list_other_grants()

    # A round from "" lists every grant; a round of changes lists the other types in full (so
    # only those can vanish by absence) and names what was removed.
    spared = sorted(connector.incremental_grant_types) if state else []
    run.known = ledger.KnownGrants.load(issuers=issuers, at=run.started, except_types=spared)
    if not run.part("grants", listing, run.grant_row, run.write_grants):
        return None
    vanished = ledger.mark_vanished(known=run.known, at=run.started)
    vanished += ledger.mark_removed(issuers=issuers, external_ids=changes.removed, at=run.started)
    run.counts["grants"].vanished += vanished
    return changes.state


def _policy(run: _Run) -> transport.RetryPolicy:
    return transport.RetryPolicy(
        attempts=settings.IDP_SYNC_ATTEMPTS,
        backoff=settings.IDP_SYNC_BACKOFF_SECONDS,
        max_wait=settings.IDP_SYNC_MAX_WAIT_SECONDS,
        on_wait=run.waited,
    )


def _pages(items: Iterable, size: int) -> Iterator[list]:
    """`items` in lists of `size`; the IdP is read between pages, never inside a write."""
    page = []
    try:
        for item in items:
            page.append(item)
            if len(page) >= size:
                yield page
                page = []
    except ConnectorError:
        if page:  # what was read before the failure is written, then the failure reported
            yield page
        raise
    if page:
        yield page


class _Run:
    """One run's state: counts per part, what was seen, the waits, what failed."""

    def __init__(self, sync: IdpSync, progress: jobs.Progress, issuer: str):
        self.sync, self.progress, self.issuer = sync, progress, issuer
        self.started = timezone.now()
        self.counts = {part: ledger.Counts() for part in PARTS}
        # The grants the ledger holds for these issuers; each listed one is taken out of it.
        self.known = ledger.KnownGrants({})
        self.links: list[tuple[str, str, str, str]] = []
        self.waits = {"server_error": 0, "rate_limited": 0, "transient": 0, "pacing": 0}
        self.not_supported: dict[str, str] = {}
        self.failed: dict[str, str] = {}
        self.inserted, self.analyze_at = 0, ANALYZE_FIRST_AT
        self.saved_at = 0.0
        self.grants_read = "all"  # or "changes": what an incremental connector was asked for

    def part(self, name: str, listing: Callable, to_row: Callable, write: Callable) -> bool:
        """Read and write one part; True when the listing finished."""
        try:
            for page in _pages(listing(), settings.IDP_SYNC_PAGE_SIZE):
                rows = []
                for item in page:
                    try:
                        rows.append(to_row(item))
                    except Malformed as exc:
                        self.counts[name].skipped += 1
                        self.progress.error(f"skipped a malformed {name[:-1]} record: {exc}")
                self.counts[name].add(write(rows))
                self.counts[name].seen += len(page) - len(rows)  # the skipped were seen too
                self.progress.record(len(page))
                self.progress.page()
                self.save(throttled=True)
        except NotSupported as exc:
            self.not_supported[name] = str(exc)
            return False
        except ConnectorError as exc:  # retries are spent (or pointless): report, keep the rest
            self.failed[name] = str(exc)
            self.progress.error(f"{name}: {exc}")
            return False
        return True

    def write_identities(self, rows: list[dict]) -> ledger.Counts:
        for row in rows:
            if row["manager"] or row["sponsor"] or row["owner"]:
                self.links.append((row["subject"], row["manager"], row["sponsor"], row["owner"]))
        return self._analyzing(
            ledger.upsert_identities(issuer=self.issuer, rows=rows, at=self.started)
        )

    def link_identities(self) -> None:
        size = settings.IDP_SYNC_PAGE_SIZE
        for start in range(0, len(self.links), size):
            ledger.link_identities(issuer=self.issuer, links=self.links[start : start + size])
        self.links = []

    def write_clients(self, rows: list[dict]) -> ledger.Counts:
        return self._analyzing(
            ledger.upsert_clients(issuer=self.issuer, rows=rows, at=self.started)
        )

    def write_grants(self, rows: list[dict]) -> ledger.Counts:
        """Upsert the rows whose record changed; the unchanged ones are only seen."""
        changed = [row for row in rows if row is not _UNCHANGED]
        counts = ledger.upsert_grants(issuer=self.issuer, rows=changed, at=self.started)
        counts.seen += len(rows) - len(changed)
        return self._analyzing(counts)

    def _analyzing(self, counts: ledger.Counts) -> ledger.Counts:
        """Refresh the planner's statistics each time this run's inserts double (and at the
        first thousand): bulk inserts otherwise leave it planning for empty tables."""
        self.inserted += counts.created
        if self.inserted >= self.analyze_at:
            ledger.refresh_statistics()
            self.analyze_at = 2 * self.inserted
        return counts

    def grant_row(self, grant: IdpGrant) -> dict:
        """The row to write, or _UNCHANGED when the ledger holds this very record (its hash,
        taken before normalising: an unchanged record costs a hash and a dict lookup)."""
        digest = _record_hash(grant)
        # Listed, so not vanished: even when the record turned malformed.
        if self.known.see(self.issuer, _external_id(grant)) == digest:
            return _UNCHANGED
        return {**_grant_row(grant), "content_hash": digest}

    def waited(self, reason: str, seconds: float) -> None:
        self.waits[reason] = self.waits.get(reason, 0) + 1

    def totals(self) -> ledger.Counts:
        total = ledger.Counts()
        for counts in self.counts.values():
            total.add(counts)
        return total

    def save(self, *, throttled: bool = False) -> None:
        """Write the counts and the summary (only while this run holds the sync); throttled,
        at most once per progress interval (each write is a commit, an fsync)."""
        if throttled and time.monotonic() - self.saved_at < jobs.PROGRESS_INTERVAL:
            return
        self.saved_at = time.monotonic()
        total = self.totals()
        self.progress.summary = {
            "issuer": self.issuer,
            **{part: _as_dict(counts) for part, counts in self.counts.items()},
            "not_supported": self.not_supported,
            "failed": self.failed,
            "waits": self.waits,
            "grants_read": self.grants_read,
        }
        held = IdpSync.objects.filter(
            pk=self.sync.pk, run_token=self.sync.run_token, status=IdpSync.Status.RUNNING
        )
        if not held.update(
            seen=total.seen,
            created=total.created,
            changed=total.changed,
            vanished=total.vanished,
            skipped=total.skipped,
            summary=self.progress.summary,
        ):
            raise jobs.JobLost(self.sync.pk)


def _as_dict(counts: ledger.Counts) -> dict:
    return {
        "seen": counts.seen,
        "created": counts.created,
        "changed": counts.changed,
        "vanished": counts.vanished,
        "skipped": counts.skipped,
    }


# --- one record -> one ledger row (Malformed when it cannot be one) ---------------------------


def _text(value, field: str, *, required: bool = False) -> str:
    text = "" if value is None else str(value)
    if required and not text:
        raise Malformed(f"no {field}")
    if len(text) > _MAX.get(field, 300):
        raise Malformed(f"{field} longer than {_MAX.get(field, 300)} characters")
    return text


def _identity_row(identity: IdpIdentity) -> dict:
    return {
        "subject": _text(identity.subject, "subject", required=True),
        "display_name": _text(identity.display_name, "display_name"),
        "email": _text(identity.email, "email"),
        "kind": identity.kind if identity.kind in _IDENTITY_KINDS else "",  # "": keep it
        "status": Identity.Status.ACTIVE if identity.active else Identity.Status.DISABLED,
        "manager": _text(identity.manager, "subject"),
        "sponsor": _text(identity.sponsor, "subject"),
        "owner": _text(identity.owner, "subject"),
    }


def _client_row(client: IdpClient) -> dict:
    return {
        "client_id": _text(client.client_id, "client_id", required=True),
        "name": _text(client.name, "name"),
    }


# A grant's content hash is that of the connector's record, the one thing its row derives
# from, so an unchanged record is known before it is normalised. Bump ROW_VERSION when
# `_grant_row` changes what a record becomes: every grant is then rewritten once.
ROW_VERSION = 1
_UNCHANGED: dict = {"unchanged": True}  # grant_row's answer for a record the ledger holds


def _record_hash(grant: IdpGrant) -> str:
    return ledger.content_hash({"row_version": ROW_VERSION, "record": grant})


def _external_id(grant: IdpGrant) -> str:
    """The grant's key at its issuer. Keycloak and Google have no id for a grant: it is the
    (user, client) pair."""
    subject = "" if grant.subject is None else str(grant.subject)
    client_id = "" if grant.client_id is None else str(grant.client_id)
    return str(grant.idp_id) if grant.idp_id else (subject and f"{subject}:{client_id}")


def _grant_row(grant: IdpGrant) -> dict:
    subject = _text(grant.subject, "subject")
    client_id = _text(grant.client_id, "client_id", required=True)
    external_id = _text(_external_id(grant), "external_id")
    if not external_id:
        raise Malformed("no id and no subject")
    grant_type = grant.grant_type or (
        Grant.GrantType.CONSENT if subject else Grant.GrantType.APPLICATION_PERMISSION
    )
    if grant_type not in _GRANT_TYPES:
        raise Malformed(f"{external_id}: unknown grant type {grant_type[:40]!r}")
    for scope in grant.scopes:
        _text(scope, "scope")
    for when in (grant.created, grant.expires):
        if when is not None and not isinstance(when, datetime):
            raise Malformed(f"{external_id}: a time that is not a time")
    return {
        "external_id": external_id,
        "subject": subject,
        "client_id": client_id,
        "scopes": [str(scope) for scope in grant.scopes],
        "grant_type": grant_type,
        "issued_at": grant.created,
        "expires_at": grant.expires,
        "raw": grant.raw,
        "has_refresh_token": grant_type == Grant.GrantType.REFRESH_TOKEN,
    }
