"""A registry's history per server, and the flags it calls for (used by registry_ingest).

Two rules keep the flags honest across incremental and full crawls:
- a version is compared only with its neighbour in publication order (the one published just
  before it), never with whatever is newest: a full crawl re-lists old versions, and compared
  with the newest one they raised changes backwards;
- a version seen before raises a flag only for what changed in it (its status, its own
  repository id, its risky problems), not again because its content hash changed: the hash
  covers the registry's official block, so losing isLatest alone changes it.

And one inference: when the latest version is deleted the registry moves isLatest back without
touching that version's updatedAt, so an incremental crawl never lists it (see moved_latest).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from inventory.models import Flag, ServerChange, ServerVersion
from inventory.registry_entries import FLAGGED_CODES, Entry, parse_entry

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STATUS_FLAG_SEVERITY = {
    "deleted": Flag.Severity.HIGH,
    "deprecated": Flag.Severity.WARNING,
    "active": Flag.Severity.WARNING,
}


def publication_order(published_at, version: str) -> tuple:
    return (published_at or EPOCH, version)


@dataclass
class State:
    """What this registry said before about some servers, updated as a page is read."""

    # (server_id, version) -> {id, hash, status, is_latest, published_at, repository_id}
    versions: dict = field(default_factory=dict)
    latest: dict = field(default_factory=dict)  # server_id -> version marked latest
    # server_id -> sorted [(publication order, version)]
    timeline: dict = field(default_factory=lambda: defaultdict(list))

    def remember(self, server_id: int, entry: Entry, old: dict | None) -> None:
        """Take a new or changed version in, so later entries on the page compare with it."""
        self.versions[(server_id, entry.version)] = {
            **(old or {"id": None, "hash": None}),
            "status": entry.status,
            "is_latest": entry.is_latest,
            "published_at": entry.published_at,
            "repository_id": entry.repository_id,
        }
        if old is None:
            bisect.insort(
                self.timeline[server_id],
                (publication_order(entry.published_at, entry.version), entry.version),
            )


def registry_state(registry, server_ids: list[int]) -> State:
    """What this registry said before about these servers (all their versions)."""
    rows = (
        ServerVersion.objects.filter(registry=registry, server_id__in=server_ids)
        .order_by()  # sorted per server below; the model's ordering would join Server
        .values_list(
            "id",
            "server_id",
            "version",
            "status",
            "is_latest",
            "published_at",
            "registry_record__content_hash",
            "registry_record__repository_id",
        )
    )
    state = State()
    for pk, server_id, version, status, is_latest, published, digest, repo_id in rows:
        state.versions[(server_id, version)] = {
            "id": pk,
            "hash": digest,
            "status": status,
            "is_latest": is_latest,
            "published_at": published,
            "repository_id": repo_id or "",
        }
        state.timeline[server_id].append((publication_order(published, version), version))
        if is_latest:
            state.latest[server_id] = version
    for timeline in state.timeline.values():
        timeline.sort()
    return state


def change(
    registry, server, version: str, field_name, old, new, crawl, now, message="", at=None
) -> ServerChange:
    return ServerChange(
        server=server,
        registry=registry,
        registry_name=registry.name[:200],
        version=version,
        field=field_name,
        old_value=(old or "")[:255],
        new_value=(new or "")[:255],
        message=message[:1000],
        changed_at=at,
        observed_at=now,
        crawl=crawl,
    )


def history(
    registry, server, entry: Entry, old, state: State, crawl, now, flags: list[dict]
) -> list[ServerChange]:
    """History rows for one new or changed version; the flags they call for go to `flags`."""
    out = []
    subject = {"server": server, "registry": registry, "version": entry.version}
    if old and old["status"] != entry.status:
        out.append(
            change(
                registry,
                server,
                entry.version,
                ServerChange.Field.STATUS,
                old["status"],
                entry.status,
                crawl,
                now,
                entry.status_message,
                entry.status_changed_at,
            )
        )
        flags.append(
            {
                **subject,
                "kind": "registry.status_changed",
                "severity": STATUS_FLAG_SEVERITY[entry.status],
                "summary": f"{server.name} {entry.version} is now {entry.status} in "
                f"{registry.name} (was {old['status']})",
                "dedup": f"{registry.pk}:{entry.version}:{entry.status}",
            }
        )
    previous_latest = state.latest.get(server.pk, "")
    if entry.is_latest and previous_latest != entry.version:
        out.append(
            _latest_change(
                registry,
                server,
                previous_latest,
                entry.version,
                crawl,
                now,
                entry.updated_at,
                flags,
            )
        )
        state.latest[server.pk] = entry.version
    repository = repository_change(state, server.pk, entry, old)
    if repository:
        version, before, after, at = repository
        out.append(
            change(
                registry,
                server,
                version,
                ServerChange.Field.REPOSITORY_ID,
                before,
                after,
                crawl,
                now,
                at=at,
            )
        )
        flags.append(
            {
                **subject,
                "version": version,
                "kind": "registry.repository_id_changed",
                "severity": Flag.Severity.HIGH,
                "summary": f"{server.name} {version}: repository id changed from {before} "
                f"to {after} (deleted and re-created repository?)",
                "dedup": f"{registry.pk}:{after}",
            }
        )
    state.remember(server.pk, entry, old)
    return out


def _latest_change(
    registry, server, before: str, after: str, crawl, now, at, flags: list, message: str = ""
) -> ServerChange:
    if before:  # the first latest version is history, not news
        flags.append(
            {
                "server": server,
                "registry": registry,
                "version": after,
                "kind": "registry.latest_version_changed",
                "severity": Flag.Severity.INFO,
                "summary": f"{server.name} latest version in {registry.name}: {before} → {after}",
                "dedup": str(registry.pk),
            }
        )
    return change(
        registry,
        server,
        after,
        ServerChange.Field.LATEST_VERSION,
        before,
        after,
        crawl,
        now,
        message,
        at,
    )


def repository_change(state: State, server_id: int, entry: Entry, old) -> tuple | None:
    """(version, old id, new id, when) of the repository id change this entry shows, or None.

    A version seen before is compared with itself (metadata is immutable: only a rewritten id
    is news). A new one with the version published just before it; when none is known yet
    (listed out of publication order), with the one just after, whose change it then is.
    """
    new_id = entry.repository_id
    if not new_id:
        return None
    if old is not None:
        was = old.get("repository_id") or ""
        return (entry.version, was, new_id, entry.published_at) if was and was != new_id else None
    known = [
        (key, v)
        for key, v in state.timeline.get(server_id, ())
        if v != entry.version and state.versions[(server_id, v)]["repository_id"]
    ]
    at = bisect.bisect(
        [key for key, _v in known], publication_order(entry.published_at, entry.version)
    )
    if at > 0:
        before = state.versions[(server_id, known[at - 1][1])]["repository_id"]
        return (entry.version, before, new_id, entry.published_at) if before != new_id else None
    if known:
        after = state.versions[(server_id, known[0][1])]
        return (
            (known[0][1], new_id, after["repository_id"], after["published_at"])
            if after["repository_id"] != new_id
            else None
        )
    return None


@dataclass
class Moved:
    """A server whose latest version the registry moved without listing the new one."""

    server: object
    entry: Entry  # what now speaks for the server (is_latest set)
    version_id: int | None  # the stored version to mark latest; None: none left to move to


def moved_latest(
    registry,
    servers: dict,
    entries: list[Entry],
    dirty: list[Entry],
    state: State,
    crawl,
    now,
    flags: list,
) -> tuple[list[Moved], list[ServerChange]]:
    """Infer where isLatest went when a page demotes a server's latest version and lists no
    other one as latest: the official registry, deleting the latest version, moves isLatest
    back to the previous one without changing that entry's updatedAt, so an incremental crawl
    does not list it. The most recently published version left that is not deleted is latest.
    With none left, the demoted version still speaks for the server (it is deleted)."""
    listed = defaultdict(dict)
    for entry in entries:
        listed[entry.name][entry.version] = entry
    changed = {(e.name, e.version) for e in dirty}
    moved, changes = [], []
    for name, versions in sorted(listed.items()):
        server = servers[name]
        demoted = state.latest.get(server.pk)
        if (
            demoted not in versions
            or (name, demoted) not in changed
            or any(e.is_latest for e in versions.values())
        ):
            continue
        left = [
            v
            for _key, v in reversed(state.timeline.get(server.pk, ()))
            if v not in versions and state.versions[(server.pk, v)]["status"] != "deleted"
        ]
        if not left:
            moved.append(Moved(server, replace(versions[demoted], is_latest=True), None))
            continue
        moved.append(
            Moved(
                server,
                _stored_entry(state.versions[(server.pk, left[0])]),
                state.versions[(server.pk, left[0])]["id"],
            )
        )
        state.latest[server.pk] = left[0]
        changes.append(
            _latest_change(
                registry,
                server,
                demoted,
                left[0],
                crawl,
                now,
                versions[demoted].updated_at,
                flags,
                message=f"inferred: {demoted} is no longer latest and the registry listed no other "
                f"version as latest; {left[0]} is the most recently published one left",
            )
        )
    return moved, changes


def _stored_entry(stored: dict) -> Entry:
    """An Entry for a stored version (title, description, repository from its document)."""
    row = ServerVersion.objects.only("document", "status").get(pk=stored["id"])
    entry = parse_entry({"server": row.document}, check=False)
    return replace(
        entry,
        status=row.status,
        is_latest=True,
        repository_id=stored["repository_id"] or entry.repository_id,
    )


def _risky(problems) -> set:
    return {
        (p.get("code"), p.get("path"), p.get("severity"))
        for p in problems or ()
        if isinstance(p, dict) and p.get("code") in FLAGGED_CODES
    }


def same_risk(changed: list[tuple[Entry, int]]) -> set[int]:
    """id()s of the changed entries whose risky problems are the ones already stored: raising
    their flag again would re-open what an admin resolved, for a change of status or isLatest."""
    if not changed:
        return set()
    stored = dict(
        ServerVersion.objects.filter(pk__in=[pk for _e, pk in changed]).values_list(
            "id", "problems"
        )
    )
    return {id(e) for e, pk in changed if _risky(e.problems) == _risky(stored.get(pk))}
