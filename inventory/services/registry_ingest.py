"""Writing one page of registry entries, set-based: a handful of statements per page of 100,
not one ORM save per row. Unchanged versions (same content hash) cost one UPDATE of last_seen.

History is kept per (server, registry): a version's status, which version is latest, and the
repository id. Each change is a `ServerChange` row and raises a flag (registry_history.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from inventory.models import (
    Flag,
    Registry,
    SeenFrom,
    Server,
    ServerChange,
    ServerPackage,
    ServerRemote,
    ServerVersion,
    ServerVersionRecord,
)
from inventory.registry_entries import FLAGGED_CODES, SEVERITY_HIGH, Entry, check_entry
from inventory.remote_urls import strip_userinfo
from inventory.services.flags import raise_flag
from inventory.services.registry_history import (
    EPOCH,
    history,
    moved_latest,
    registry_state,
    same_risk,
)


@dataclass
class PageResult:
    """What one page changed (summed into the crawl summary)."""

    new: int = 0
    changed: int = 0
    unchanged: int = 0
    history: int = 0
    flags: list[dict] = field(default_factory=list)

    def as_counts(self) -> dict:
        return {
            "new_versions": self.new,
            "changed_versions": self.changed,
            "unchanged_versions": self.unchanged,
            "history_entries": self.history,
            "flags_raised": len(self.flags),
        }


def write_entries(
    registry: Registry, entries: list[Entry], *, crawl, now, check=check_entry
) -> PageResult:
    """Upsert servers, versions, records, packages and remotes of one page; record history.

    `check` completes an entry (schema validation, problems) and runs only for new or changed
    versions. Call inside a transaction: a page is written entirely or not at all.
    """
    result = PageResult()
    if not entries:
        return result
    servers = _ensure_servers({e.name for e in entries}, now)
    state = registry_state(registry, [s.pk for s in servers.values()])
    changes, dirty, changed = [], [], []
    # History reads in publication order, whatever order the registry's cursor uses.
    entries = sorted(entries, key=lambda e: (e.published_at or EPOCH, e.name, e.version))
    _one_latest_per_server(entries)
    for entry in entries:
        server = servers[entry.name]
        old = state.versions.get((server.pk, entry.version))
        if old and old["hash"] == entry.content_hash:
            result.unchanged += 1
            continue
        result.new += old is None
        result.changed += old is not None
        dirty.append(check(entry))
        if old is not None:
            changed.append((entry, old["id"]))
        changes += history(registry, server, entry, old, state, crawl, now, result.flags)
    moved, inferred = moved_latest(
        registry, servers, entries, dirty, state, crawl, now, result.flags
    )
    changes += inferred
    quiet = same_risk(changed)  # read before the upsert overwrites the stored problems
    if result.unchanged:
        dirty_ids = {id(e) for e in dirty}
        unchanged_ids = [
            state.versions[(servers[e.name].pk, e.version)]["id"]
            for e in entries
            if id(e) not in dirty_ids
        ]
        ServerVersion.objects.filter(pk__in=unchanged_ids).update(last_seen=now)
    if dirty:
        _upsert_versions(registry, servers, dirty, crawl, now)
    _mark_moved_latest(moved)
    ServerChange.objects.bulk_create(changes)
    result.history = len(changes)
    _update_servers(servers, dirty + [m.entry for m in moved], now)
    _raise_flags(registry, servers, [e for e in dirty if id(e) not in quiet], result)
    return result


def _mark_moved_latest(moved) -> None:
    """The inferred latest versions become latest. Their stored content hash is cleared: it
    still says isLatest false, and the next listing of them must not be skipped as unchanged
    (the registry's own word then replaces the inference)."""
    ids = [m.version_id for m in moved if m.version_id is not None]
    if ids:
        ServerVersion.objects.filter(pk__in=ids).update(is_latest=True)
        ServerVersionRecord.objects.filter(server_version_id__in=ids).update(content_hash="")


def _one_latest_per_server(entries: list[Entry]) -> None:
    """A broken registry may mark two versions of a server latest: keep the last published."""
    latest = {}
    for entry in entries:  # sorted by publication time
        if entry.is_latest:
            if entry.name in latest:
                latest[entry.name].is_latest = False
            latest[entry.name] = entry


def _ensure_servers(names: set[str], now) -> dict[str, Server]:
    """Servers by name, creating the missing ones (a concurrent creator wins harmlessly)."""
    # Read here: the pk, the name, and the title (str(server) names a raised flag's object).
    fields = ("id", "name", "title")
    servers = {s.name: s for s in Server.objects.filter(name__in=names).only(*fields)}
    missing = names - servers.keys()
    if missing:
        Server.objects.bulk_create(
            [
                Server(
                    name=n,
                    first_seen=now,
                    last_seen=now,
                    seen_from=SeenFrom.REGISTRY,
                    registry_status=Server.RegistryStatus.ACTIVE,
                )
                for n in sorted(missing)
            ],
            ignore_conflicts=True,
        )
        servers.update({s.name: s for s in Server.objects.filter(name__in=missing).only(*fields)})
    return servers


def _upsert_versions(registry, servers, dirty: list[Entry], crawl, now) -> None:
    rows = ServerVersion.objects.bulk_create(
        [
            ServerVersion(
                server=servers[e.name],
                registry=registry,
                version=e.version,
                is_latest=e.is_latest,
                status=e.status,
                published_at=e.published_at,
                updated_at=e.updated_at,
                document=e.document,
                problems=e.problems,
                first_seen=now,
                last_seen=now,
            )
            for e in dirty
        ],
        update_conflicts=True,
        unique_fields=["registry", "server", "version"],
        update_fields=[
            "is_latest",
            "status",
            "published_at",
            "updated_at",
            "document",
            "problems",
            "last_seen",
        ],
    )
    # A new latest version demotes the previous one, which may be on another page.
    new_latest = {row.server_id: row.pk for row in rows if row.is_latest}
    if new_latest:
        (
            ServerVersion.objects.filter(
                registry=registry, is_latest=True, server_id__in=new_latest.keys()
            )
            .exclude(pk__in=new_latest.values())
            .update(is_latest=False)
        )
    ServerVersionRecord.objects.bulk_create(
        [
            ServerVersionRecord(
                server_version_id=row.pk,
                content_hash=e.content_hash,
                repository_id=e.repository_id,
                status_message=e.status_message,
                status_changed_at=e.status_changed_at,
                crawl=crawl,
            )
            for row, e in zip(rows, dirty)
        ],
        update_conflicts=True,
        unique_fields=["server_version"],
        update_fields=[
            "content_hash",
            "repository_id",
            "status_message",
            "status_changed_at",
            "crawl",
        ],
    )
    # Version metadata is immutable in the registry; when it did change, replace the packages.
    ServerPackage.objects.filter(server_version_id__in=[r.pk for r in rows]).delete()
    ServerPackage.objects.bulk_create(
        [
            ServerPackage(server_version_id=row.pk, **pkg)
            for row, e in zip(rows, dirty)
            for pkg in e.packages
        ]
    )
    remotes, credentialed = {}, set()
    for e in dirty:  # URLs are stored without user:password@ (inventory/remote_urls.py)
        for url, transport in e.remotes:
            url, had_credentials = strip_userinfo(url)
            remotes[(servers[e.name].pk, url)] = transport
            if had_credentials:
                credentialed.add((servers[e.name].pk, url))
    stored = ServerRemote.objects.bulk_create(
        [
            ServerRemote(server_id=sid, url=url, transport=transport, first_seen=now, last_seen=now)
            for (sid, url), transport in sorted(remotes.items())
        ],
        update_conflicts=True,
        unique_fields=["server", "url"],
        update_fields=["transport", "last_seen"],
    )
    # Noted on the row, new or not, and kept (never reset): one UPDATE for the whole page, by
    # the ids the upsert returned.
    if credentialed:
        ServerRemote.objects.filter(
            pk__in=[r.pk for r in stored if (r.server_id, r.url) in credentialed]
        ).update(had_credentials=True)


def _update_servers(servers: dict[str, Server], entries: list[Entry], now) -> None:
    """Servers take their title, description, repository and status from their latest version
    (only from new or changed ones: an unchanged version has nothing new to say)."""
    latest = {e.name: e for e in sorted(entries, key=lambda e: e.name) if e.is_latest}
    # INSERT ... ON CONFLICT (name) DO UPDATE: one statement; the rows exist already. Rows go
    # in name order so two registries crawled at once lock servers in the same order.
    Server.objects.bulk_create(
        [
            Server(
                name=name,
                title=e.title,
                description=e.description,
                latest_version=e.version,
                registry_status=e.status,
                repository_url=e.repository_url,
                repository_id=e.repository_id,
                first_seen=now,
                last_seen=now,
                seen_from=SeenFrom.REGISTRY,
            )
            for name, e in latest.items()
        ],
        update_conflicts=True,
        unique_fields=["name"],
        update_fields=[
            "title",
            "description",
            "latest_version",
            "registry_status",
            "repository_url",
            "repository_id",
            "last_seen",
        ],
    )
    for name, e in latest.items():
        servers[name].title = e.title  # as stored, so flags raised next name the server by it
    others = [s.pk for name, s in servers.items() if name not in latest]
    if others:
        Server.objects.filter(pk__in=others, last_seen__lt=now).update(last_seen=now)


def _raise_flags(registry, servers, dirty: list[Entry], result: PageResult) -> None:
    for flag in result.flags:
        raise_flag(
            kind=flag["kind"],
            obj=flag["server"],
            summary=flag["summary"][:500],
            severity=flag["severity"],
            dedup_key=flag["dedup"][:300],
            details={"registry": registry.name, "version": flag["version"]},
        )
    for entry in dirty:
        risky = [p for p in entry.problems if p["code"] in FLAGGED_CODES]
        if not risky:
            continue
        high = any(p["severity"] == SEVERITY_HIGH for p in risky)
        codes = sorted({p["code"] for p in risky})
        raise_flag(
            kind="registry.risky_server_json",
            obj=servers[entry.name],
            severity=Flag.Severity.HIGH if high else Flag.Severity.WARNING,
            summary=f"{entry.name} {entry.version} in {registry.name}: {', '.join(codes)}"[:500],
            dedup_key=f"{registry.pk}:{entry.version}"[:300],
            details={"registry": registry.name, "version": entry.version, "problems": risky},
        )
        result.flags.append({"kind": "registry.risky_server_json"})
