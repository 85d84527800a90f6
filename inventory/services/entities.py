"""Upserts of single inventory entities (UI, demo data, crawlers), task status reports, and the
review-status admin action.

Every upsert is one `INSERT ... ON CONFLICT (natural key) DO UPDATE`: two writers racing on the
same key both succeed and end with one row, which `get`-then-`create` cannot promise. Sightings
merge monotonically: `first_seen` only ever moves earlier, `last_seen` only later, and the other
values (and `seen_from`) follow the latest sighting, so a late-arriving older report cannot
overwrite newer facts. Arguments left as None leave the stored value alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db import connection, models, transaction

from governance.access.records import record_admin_action
from inventory.models import (
    Client,
    Grant,
    Identity,
    Registry,
    ReviewStatus,
    SeenFrom,
    Server,
    ServerRemote,
    ServerVersion,
    Task,
    TaskStatusChange,
    Tool,
)
from inventory.remote_urls import strip_userinfo
from inventory.services.flags import raise_flag

SIGHTING = ("first_seen", "last_seen")


def bulk_upsert(
    model: type[models.Model],
    rows: Sequence[dict],
    *,
    conflict: Sequence[str],
    insert_only: Iterable[str] = (),
) -> list[tuple[int, bool]]:
    """Insert-or-update many rows of one model in one statement; returns (pk, created) per row.

    Every row must carry the same keys (field names, FKs as `owner_id`) and natural keys must be
    unique within one call (PostgreSQL refuses to update a row twice in one statement). Fields in
    `insert_only` are written when the row is new and kept otherwise (a human's review decision).
    """
    if not rows:
        return []
    opts = model._meta
    fields = {f.attname: f for f in opts.concrete_fields if not f.primary_key}
    given = list(rows[0])
    # Columns the caller did not give get the model default, so NOT NULL columns are filled.
    defaults = {
        name: f.get_default()
        for name, f in fields.items()
        if name not in given and (f.has_default() or not f.null)
    }
    names = given + list(defaults)
    values, params = [], []
    for row in rows:
        values.append("(" + ", ".join(["%s"] * len(names)) + ")")
        for name in names:
            value = row[name] if name in row else defaults[name]
            params.append(fields[name].get_db_prep_save(value, connection))
    keep = set(conflict) | set(insert_only) | set(SIGHTING) | {"seen_from"} | NEVER_BACKWARDS
    # A late-arriving older sighting must not overwrite what a newer one said.
    fresher = 'EXCLUDED."last_seen" >= t."last_seen"' if "last_seen" in given else "TRUE"
    updates = [
        f'"{c}" = CASE WHEN {fresher} THEN EXCLUDED."{c}" ELSE t."{c}" END'
        for c in (fields[n].column for n in given if n not in keep)
    ]
    if "first_seen" in given:
        updates.append('"first_seen" = LEAST(t."first_seen", EXCLUDED."first_seen")')
    if "last_seen" in given:
        updates.append('"last_seen" = GREATEST(t."last_seen", EXCLUDED."last_seen")')
    for name in NEVER_BACKWARDS & set(given):
        column = fields[name].column  # e.g. a grant used later (seen in events) stays used later
        updates.append(f'"{column}" = GREATEST(t."{column}", EXCLUDED."{column}")')
    if "seen_from" in given:
        updates.append(
            f'"seen_from" = CASE WHEN {fresher} THEN EXCLUDED."seen_from" ELSE t."seen_from" END'
        )
    columns = ", ".join(f'"{fields[n].column}"' for n in names)
    target = ", ".join(f'"{fields[n].column}"' for n in conflict)
    # `xmax = 0` is PostgreSQL's tell that the row was inserted, not updated, by this statement.
    sql = (
        f'INSERT INTO "{opts.db_table}" AS t ({columns}) VALUES {", ".join(values)} '
        f"ON CONFLICT ({target}) DO UPDATE SET {', '.join(updates)} "
        f'RETURNING t."{opts.pk.column}", (t.xmax = 0)'
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [(pk, created) for pk, created in cursor.fetchall()]


def _given(**values) -> dict:
    """The keyword arguments the caller actually set (None means: leave it alone)."""
    return {name: value for name, value in values.items() if value is not None}


# Times that only move forward, whoever reports them (GREATEST ignores NULL); a remote once
# reported with credentials keeps saying so (GREATEST of booleans is OR).
NEVER_BACKWARDS = {"last_used_at", "had_credentials"}


def _upsert_one(model, *, conflict, insert_only=(), **values):
    [(pk, created)] = bulk_upsert(model, [values], conflict=conflict, insert_only=insert_only)
    return model.objects.get(pk=pk), created


@transaction.atomic
def upsert_identity(
    *,
    issuer: str,
    subject: str,
    at: datetime,
    seen_from: str = SeenFrom.MANUAL,
    display_name: str | None = None,
    email: str | None = None,
    kind: str | None = None,
    status: str | None = None,
    owner: Identity | None = None,
    team: str | None = None,
) -> tuple[Identity, bool]:
    """Create or refresh the identity `subject` at `issuer`."""
    values = _given(
        display_name=display_name,
        email=email,
        kind=kind,
        status=status,
        team=team,
        owner_id=owner.pk if owner else None,
    )
    return _upsert_one(
        Identity,
        conflict=["issuer", "subject"],
        issuer=issuer,
        subject=subject,
        first_seen=at,
        last_seen=at,
        seen_from=seen_from,
        **values,
    )


@transaction.atomic
def upsert_client(
    *,
    client_id: str,
    at: datetime,
    seen_from: str = SeenFrom.MANUAL,
    registration: str | None = None,
    name: str | None = None,
    issuer: str | None = None,
    version: str | None = None,
    owner: Identity | None = None,
    review_status: str | None = None,
) -> tuple[Client, bool]:
    """Create or refresh the client `client_id`; a given review status only applies to a new row."""
    values = _given(
        name=name,
        issuer=issuer,
        version=version,
        owner_id=owner.pk if owner else None,
        review_status=review_status,
    )
    # A registration kind guessed from the client_id only applies to a new row; a stated one wins.
    insert_only = ["review_status"] + ([] if registration else ["registration"])
    return _upsert_one(
        Client,
        conflict=["client_id"],
        insert_only=insert_only,
        client_id=client_id,
        first_seen=at,
        last_seen=at,
        seen_from=seen_from,
        registration=registration or Client.registration_for(client_id),
        **values,
    )


@transaction.atomic
def upsert_server(
    *,
    name: str,
    at: datetime,
    seen_from: str = SeenFrom.MANUAL,
    title: str | None = None,
    description: str | None = None,
    latest_version: str | None = None,
    repository_url: str | None = None,
    registry_status: str | None = None,
    owner: Identity | None = None,
    review_status: str | None = None,
    remotes: Sequence[dict] = (),
    tools: Sequence[dict] = (),
) -> tuple[Server, bool]:
    """Create or refresh a server, with its remotes ({url, transport}) and tools ({name, ...})."""
    values = _given(
        title=title,
        description=description,
        latest_version=latest_version,
        repository_url=repository_url,
        registry_status=registry_status,
        owner_id=owner.pk if owner else None,
        review_status=review_status,
    )
    server, created = _upsert_one(
        Server,
        conflict=["name"],
        insert_only=["review_status"],
        name=name,
        first_seen=at,
        last_seen=at,
        seen_from=seen_from,
        **values,
    )
    bulk_upsert(ServerRemote, _remote_rows(server, remotes, at), conflict=["server_id", "url"])
    bulk_upsert(
        Tool,
        [
            {
                "server_id": server.pk,
                "name": t["name"],
                "title": t.get("title", ""),
                "description": t.get("description", ""),
                "task_support": t.get("task_support", ""),
                "name_conforms": Tool.conforms(t["name"]),
                "first_seen": at,
                "last_seen": at,
            }
            for t in tools
        ],
        conflict=["server_id", "name"],
    )
    return server, created


def _remote_rows(server: Server, remotes: Sequence[dict], at: datetime) -> list[dict]:
    """One row per URL without its userinfo (inventory/remote_urls.py): two spellings of one
    URL, with and without credentials, are one remote that had credentials."""
    rows = {}
    for remote in remotes:
        url, had_credentials = strip_userinfo(remote["url"])
        earlier = rows.get(url, {}).get("had_credentials", False)
        rows[url] = {
            "server_id": server.pk,
            "url": url,
            "had_credentials": had_credentials or earlier,
            "transport": remote.get("transport") or ServerRemote.Transport.STREAMABLE_HTTP,
            "first_seen": at,
            "last_seen": at,
        }
    return list(rows.values())


@transaction.atomic
def upsert_server_version(
    *,
    server: Server,
    version: str,
    at: datetime,
    registry: Registry | None = None,
    is_latest: bool = False,
    status: str = Server.RegistryStatus.ACTIVE,
    published_at: datetime | None = None,
    document: dict | None = None,
) -> tuple[ServerVersion, bool]:
    """Create or refresh one published version of a server (key: registry, server, version)."""
    return _upsert_one(
        ServerVersion,
        conflict=["registry_id", "server_id", "version"],
        registry_id=registry.pk if registry else None,
        server_id=server.pk,
        version=version,
        is_latest=is_latest,
        status=status,
        published_at=published_at,
        updated_at=at,
        document=document or {},
        first_seen=at,
        last_seen=at,
    )


@transaction.atomic
def upsert_grant(
    *,
    issuer: str,
    external_id: str,
    client: Client,
    at: datetime,
    seen_from: str = SeenFrom.MANUAL,
    subject: Identity | None = None,
    server: Server | None = None,
    resource: str | None = None,
    scopes: list[str] | None = None,
    grant_type: str | None = None,
    has_refresh_token: bool | None = None,
    issued_at: datetime | None = None,
    expires_at: datetime | None = None,
    last_used_at: datetime | None = None,
    status: str | None = None,
    revoked_at: datetime | None = None,
    revoked_by: str | None = None,
    revoke_reason: str | None = None,
) -> tuple[Grant, bool]:
    """Create or refresh the grant the issuer knows as `external_id`."""
    if status == Grant.Status.REVOKED and revoked_at is None:
        revoked_at = at  # a revocation reported without its time happened no later than now
    values = _given(
        subject_id=subject.pk if subject else None,
        server_id=server.pk if server else None,
        resource=resource,
        scopes=scopes,
        grant_type=grant_type,
        has_refresh_token=has_refresh_token,
        issued_at=issued_at,
        expires_at=expires_at,
        last_used_at=last_used_at,
        status=status,
        revoked_at=revoked_at,
        revoked_by=revoked_by,
        revoke_reason=revoke_reason,
    )
    return _upsert_one(
        Grant,
        conflict=["issuer", "external_id"],
        issuer=issuer,
        external_id=external_id,
        client_id=client.pk,
        first_seen=at,
        last_seen=at,
        seen_from=seen_from,
        **values,
    )


@transaction.atomic
def upsert_task(
    *,
    task_id: str,
    server: Server | None,
    at: datetime,
    seen_from: str = SeenFrom.MANUAL,
    status: str | None = None,
    client: Client | None = None,
    identity: Identity | None = None,
    grant: Grant | None = None,
    method: str | None = None,
    tool_name: str | None = None,
    session_id: str | None = None,
    ttl_ms: int | None = None,
    poll_interval_ms: int | None = None,
    protocol_version: str | None = None,
    event_ref: str = "",
) -> tuple[Task, bool]:
    """Create or refresh a task; a status differing from the stored one goes through
    `report_task_status`, so an existing task's status only moves along legal edges."""
    values = _given(
        client_id=client.pk if client else None,
        identity_id=identity.pk if identity else None,
        grant_id=grant.pk if grant else None,
        method=method,
        tool_name=tool_name,
        session_id=session_id,
        ttl_ms=ttl_ms,
        poll_interval_ms=poll_interval_ms,
        protocol_version=protocol_version,
    )
    task, created = _upsert_one(
        Task,
        conflict=["server_id", "task_id"],
        insert_only=["status", "created_at", "last_updated_at"],
        task_id=task_id,
        server_id=server.pk if server else None,
        status=status or Task.Status.WORKING,
        created_at=at,
        last_updated_at=at,
        first_seen=at,
        last_seen=at,
        seen_from=seen_from,
        **values,
    )
    if created:
        TaskStatusChange.objects.create(
            task=task, from_status="", to_status=task.status, at=at, event_ref=event_ref
        )
    elif status is not None and task.status != status:
        # The upsert locked the row until commit, and report_task_status sets on `task` what it
        # writes (status, message, time; or the flag): the object is current without a re-read.
        report_task_status(task, status=status, at=at, event_ref=event_ref)
    return task, created


@transaction.atomic
def report_task_status(
    task: Task,
    *,
    status: str,
    at: datetime,
    message: str = "",
    event_ref: str = "",
) -> TaskStatusChange:
    """Record a reported status; apply it only if the transition is legal, else flag the task."""
    if status not in Task.Status.values:
        raise ValueError(f"status: {status!r} is not a task status")
    locked = Task.objects.select_for_update().get(pk=task.pk)
    old = locked.status
    legal = Task.is_legal_transition(old, status)
    change = TaskStatusChange.objects.create(
        task=locked,
        from_status=old,
        to_status=status,
        at=at,
        status_message=message,
        is_legal=legal,
        event_ref=event_ref,
    )
    if legal:
        Task.objects.filter(pk=task.pk).update(
            status=status, status_message=message, last_updated_at=at
        )
        task.status, task.status_message, task.last_updated_at = status, message, at
        return change
    reason = f"Reported {status} after terminal status {old} at {at:%Y-%m-%d %H:%M:%S}"
    Task.objects.filter(pk=task.pk).update(flagged=True, flag_reason=reason)
    task.flagged, task.flag_reason = True, reason
    raise_flag(
        kind="task.illegal_transition",
        obj=locked,
        summary=f"Task {task.task_id}: illegal transition {old} → {status}",
        severity="high",
        at=at,
        details={"from": old, "to": status, "at": at.isoformat(), "event_ref": event_ref},
    )
    return change


@transaction.atomic
def set_review_status(obj: Client | Server, *, status: str, actor, request=None):
    """An admin approves or blocks a client or server (recorded with before/after)."""
    if status not in ReviewStatus.values:
        raise ValueError(f"status: {status!r} is not one of {', '.join(ReviewStatus.values)}")
    model = type(obj)
    locked = model.objects.select_for_update().get(pk=obj.pk)
    before = locked.review_status
    if before != status:
        model.objects.filter(pk=obj.pk).update(review_status=status)
        record_admin_action(
            actor=actor,
            action=f"{model._meta.model_name}.review_status_changed",
            obj=locked,
            before={"review_status": before},
            after={"review_status": status},
            request=request,
        )
    obj.review_status = status
    return obj
