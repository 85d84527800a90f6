"""Which authorization servers guard each MCP server, and how well they are set up.

For each ServerRemote URL, `inventory.upstream.oauth_metadata` finds the Protected Resource
Metadata (RFC 9728) and, for each issuer it lists, the authorization server metadata (RFC 8414 /
OpenID discovery), all through the safe fetcher so a hostile server cannot point us inside. This
module judges those documents (problems, flags) and stores them, network first and then one short
transaction per authorization server and one for the PRM.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from governance.access.records import record_admin_action
from inventory.models import AuthorizationServer, Crawl, Flag, ProtectedResource, ServerRemote
from inventory.problems import problem
from inventory.secret_members import find_secrets, mask_secrets
from inventory.services.flags import raise_flag, resolve_open_flags
from inventory.services.oauth_drift import ENDPOINT_FIELDS, authorization_server_drift, prm_drift
from inventory.upstream import oauth_metadata as upstream

logger = logging.getLogger(__name__)
# Target of the scheduled crawl that re-reads every remote's OAuth metadata.
ALL_REMOTES_TARGET = "all-remotes"
MAX_ISSUERS = 5  # a PRM naming dozens of issuers is not worth following past a handful
OMNIBUS_SCOPES = {"*", "all", "full-access", "full_access", "fullaccess", "root", "admin:*"}
SERVER_FLAG_KINDS = (
    "oauth.prm_resource_mismatch",
    "oauth.prm_unavailable",
    "oauth.prm_no_authorization_servers",
    "oauth.omnibus_scopes",
    "oauth.secret_in_metadata",
)
AS_FLAG_KINDS = (
    "oauth.as_metadata_unavailable",
    "oauth.issuer_mismatch",
    "oauth.no_pkce_s256",
    "oauth.open_registration",
    "oauth.omnibus_scopes",
    "oauth.secret_in_metadata",
)


# --- Pure helpers ---------------------------------------------------------------------------


def omnibus(scopes) -> list[str]:
    """Wildcard or all-access scopes (MCP security best practice calls them a mistake)."""
    return [
        s
        for s in scopes or []
        if isinstance(s, str) and (s.lower() in OMNIBUS_SCOPES or s.endswith(":*"))
    ]


def _str_list(value) -> list[str]:
    return [v[:300] for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _secret_problems(document: dict) -> list[dict]:
    """A public metadata document holding a secret (masked before it is stored)."""
    paths = find_secrets(document)
    if not paths:
        return []
    return [
        problem(
            "secret_in_metadata",
            f"public metadata publishes a secret ({', '.join(paths)[:200]}); "
            "masked here, but anyone could read it",
            field=paths[0],
            severity=None,
        )
    ]


def prm_problems(document: dict, remote_url: str) -> list[dict]:
    found = _secret_problems(document)
    resource = document.get("resource")
    if resource != remote_url:
        found.append(
            problem(
                "resource_mismatch",
                f"PRM resource {str(resource)[:300]!r} does not match the server "
                f"URL {remote_url!r}; RFC 9728 says the document must not be used",
                field="resource",
                severity=None,
            )
        )
    if not _str_list(document.get("authorization_servers")):
        found.append(
            problem(
                "no_authorization_servers",
                "authorization_servers is missing or empty",
                field="authorization_servers",
                severity=None,
            )
        )
    wild = omnibus(document.get("scopes_supported"))
    if wild:
        found.append(
            problem(
                "omnibus_scopes",
                f"wildcard or all-access scopes offered: {', '.join(wild)}",
                field="scopes_supported",
                severity=None,
            )
        )
    return found


def as_problems(metadata: dict, issuer: str) -> list[dict]:
    found = _secret_problems(metadata)
    if metadata.get("issuer") != issuer:
        found.append(
            problem(
                "issuer_mismatch",
                f"metadata issuer {str(metadata.get('issuer'))[:300]!r} is not "
                f"the issuer it was discovered for ({issuer!r})",
                field="issuer",
                severity=None,
            )
        )
    if "S256" not in _str_list(metadata.get("code_challenge_methods_supported")):
        found.append(
            problem(
                "no_pkce_s256",
                "PKCE S256 is not advertised; MCP clients must refuse to proceed",
                field="code_challenge_methods_supported",
                severity=None,
            )
        )
    if metadata.get("registration_endpoint"):
        found.append(
            problem(
                "open_registration",
                "offers dynamic client registration (RFC 7591)",
                field="registration_endpoint",
                severity=None,
            )
        )
    wild = omnibus(metadata.get("scopes_supported"))
    if wild:
        found.append(
            problem(
                "omnibus_scopes",
                f"wildcard or all-access scopes offered: {', '.join(wild)}",
                field="scopes_supported",
                severity=None,
            )
        )
    return found


# --- Storing ----------------------------------------------------------------------------------


def rediscover_remote(remote: ServerRemote, *, actor, request=None) -> ProtectedResource:
    """An Admin runs discovery of one remote now. The request is recorded first, in its own
    transaction, so it stays on record even when the fetch fails or times out."""
    with transaction.atomic():
        record_admin_action(
            actor=actor,
            action="server.oauth_discovery_requested",
            obj=remote.server,
            request=request,
            after={"remote": remote.url},
        )
    return discover_remote(remote)


def discover_remote(remote: ServerRemote) -> ProtectedResource:
    """Discover and store the PRM and authorization servers of one remote; flags on problems."""
    found = upstream.find_prm(remote.url)
    issuers = []
    if found.document is not None:
        issuers = _str_list(found.document.get("authorization_servers"))[:MAX_ISSUERS]
    # Network first, then one short transaction per authorization server and one for the PRM.
    servers = []
    for issuer in issuers:
        metadata = upstream.find_as_metadata(issuer)
        servers.append(
            store_authorization_server(issuer, metadata.document, metadata.url, metadata.errors)
        )
    return _store_prm(
        remote, found.document, found.url, found.via, found.challenge, found.errors, servers
    )


@transaction.atomic
def _store_prm(remote, document, prm_url, via, challenge, errors, servers) -> ProtectedResource:
    now = timezone.now()
    problems = (
        prm_problems(document, remote.url)
        if document is not None
        else [
            problem(
                "prm_unavailable",
                "no Protected Resource Metadata found: " + "; ".join(errors)[:400],
                field="",
                severity=None,
            )
        ]
    )
    # What it replaces, for the drift rule (only a fetched document counts as the previous one).
    previous = (
        ProtectedResource.objects.filter(remote=remote, fetch_ok=True)
        .values_list("document", flat=True)
        .first()
    )
    prm, _ = ProtectedResource.objects.update_or_create(
        remote=remote,
        defaults={
            "prm_url": prm_url,
            "discovered_via": via,
            "document": mask_secrets(document or {})[0],
            "resource": str((document or {}).get("resource", ""))[:1000],
            "scopes_supported": _str_list((document or {}).get("scopes_supported")),
            "challenge_scope": str(challenge.get("scope", ""))[:1000],
            "problems": problems,
            "fetch_ok": document is not None,
            "last_error": "; ".join(errors)[:500],
            "fetched_at": now,
        },
    )
    prm.authorization_servers.set(servers)  # which servers an issuer guards is read from these
    prm_drift(remote, previous, prm.document if document is not None else None, prm_url=prm_url)
    codes = {p["code"]: p for p in problems}
    wanted = {}
    if "resource_mismatch" in codes:
        wanted["oauth.prm_resource_mismatch"] = (Flag.Severity.HIGH, codes["resource_mismatch"])
    if "prm_unavailable" in codes and challenge.get("status") == 401:
        wanted["oauth.prm_unavailable"] = (Flag.Severity.WARNING, codes["prm_unavailable"])
    if "no_authorization_servers" in codes:
        wanted["oauth.prm_no_authorization_servers"] = (
            Flag.Severity.WARNING,
            codes["no_authorization_servers"],
        )
    if "omnibus_scopes" in codes:
        wanted["oauth.omnibus_scopes"] = (Flag.Severity.WARNING, codes["omnibus_scopes"])
    if "secret_in_metadata" in codes:
        wanted["oauth.secret_in_metadata"] = (Flag.Severity.HIGH, codes["secret_in_metadata"])
    _sync_flags(
        remote.server,
        SERVER_FLAG_KINDS,
        wanted,
        dedup_key=str(remote.pk),
        details={"remote": remote.url, "prm_url": prm_url},
    )
    return prm


@transaction.atomic
def store_authorization_server(
    issuer: str, metadata: dict | None, metadata_url: str, errors: list[str]
) -> AuthorizationServer:
    """Upsert one authorization server from its discovered metadata (or its absence)."""
    now = timezone.now()
    fields = {"last_seen": now, "last_fetched_at": now, "fetch_ok": metadata is not None}
    if metadata is None:
        problems = [
            problem(
                "as_metadata_unavailable",
                "no authorization server metadata: " + "; ".join(errors)[:400],
                field="",
                severity=None,
            )
        ]
    else:
        problems = as_problems(metadata, issuer)
        methods = _str_list(metadata.get("code_challenge_methods_supported"))
        cimd = metadata.get("client_id_metadata_document_supported")
        fields.update(
            metadata=mask_secrets(metadata)[0],
            metadata_url=metadata_url,
            scopes_supported=_str_list(metadata.get("scopes_supported")),
            code_challenge_methods=methods,
            supports_pkce_s256="S256" in methods,
            cimd_supported=cimd if isinstance(cimd, bool) else None,
            open_registration=bool(metadata.get("registration_endpoint")),
            grant_types_supported=_str_list(metadata.get("grant_types_supported")),
            **{name: str(metadata.get(name) or "")[:1000] for name in ENDPOINT_FIELDS},
        )
    fields["problems"] = problems
    # A concurrent discovery creating the same issuer first is handled by update_or_create
    # (its get_or_create retries the lookup after the unique-constraint IntegrityError).
    previous = (
        AuthorizationServer.objects.filter(issuer=issuer, fetch_ok=True)
        .values_list("metadata", flat=True)
        .first()
    )
    server, _ = AuthorizationServer.objects.update_or_create(
        issuer=issuer, defaults=fields, create_defaults={**fields, "first_seen": now}
    )
    authorization_server_drift(server, previous, server.metadata if metadata is not None else None)
    severities = {
        "issuer_mismatch": Flag.Severity.HIGH,
        "no_pkce_s256": Flag.Severity.HIGH,
        "open_registration": Flag.Severity.INFO,
        "omnibus_scopes": Flag.Severity.WARNING,
        "as_metadata_unavailable": Flag.Severity.WARNING,
        "secret_in_metadata": Flag.Severity.HIGH,
    }
    wanted = {f"oauth.{p['code']}": (severities[p["code"]], p) for p in problems}
    _sync_flags(server, AS_FLAG_KINDS, wanted, details={"issuer": issuer})
    return server


def _sync_flags(obj, kinds, wanted: dict, *, dedup_key: str = "", details: dict) -> None:
    """Raise the flags that apply now; resolve this object's open ones that no longer do."""
    for kind, (severity, found) in wanted.items():
        raise_flag(
            kind=kind,
            obj=obj,
            severity=severity,
            summary=found["message"][:500],
            details={**details, "problem": found},
            dedup_key=dedup_key,
        )
    resolve_open_flags(
        obj,
        [k for k in kinds if k not in wanted],
        dedup_key=dedup_key,
        by="system: no longer found by discovery",
    )


def discover_all(*, progress=None, remotes=None, concurrency: int = 8) -> dict:
    """Discover OAuth metadata for every HTTP remote (or the given ones), a few at a time; one
    failure is counted, not fatal."""
    remotes = list(
        remotes
        if remotes is not None
        else ServerRemote.objects.exclude(transport=ServerRemote.Transport.STDIO).select_related(
            "server"
        )
    )
    counts = {"remotes": len(remotes), "found": 0, "missing": 0, "failed": 0}
    if progress is not None:
        progress.page()

    def one(remote):
        try:
            return remote, discover_remote(remote).fetch_ok, ""
        except Exception as exc:  # noqa: BLE001 - one remote must not stop the crawl
            logger.exception("OAuth discovery for %s failed", remote.url)
            return remote, None, str(exc)
        finally:
            if concurrency > 1:
                connections.close_all()  # this worker thread's own connection

    if concurrency > 1:
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            results = list(pool.map(one, remotes))
    else:
        results = [one(remote) for remote in remotes]
    for remote, found, error in results:
        counts["failed" if found is None else "found" if found else "missing"] += 1
        if progress is not None:
            progress.record()
            if error:
                progress.error(f"{remote.url}: {error}"[:300])
    return counts


# --- Crawl jobs ---------------------------------------------------------------------------------


def run_oauth_metadata_crawl(crawl: Crawl, progress) -> None:
    """Crawl runner: every HTTP remote (target ALL_REMOTES_TARGET) or the remotes at one URL."""
    remotes = None
    if crawl.target != ALL_REMOTES_TARGET:
        remotes = ServerRemote.objects.filter(url=crawl.target).select_related("server")
    counts = discover_all(
        progress=progress, remotes=remotes, concurrency=settings.OAUTH_DISCOVERY_CONCURRENCY
    )
    progress.summary.update(counts)
