"""The flags a CIMD document earns: risky changes between versions, and what the current
version says about itself (invalid, a published secret, localhost or internal URIs). Split from
inventory/services/cimd.py, which re-exports the flag kinds."""

from __future__ import annotations

from inventory import cimd_checks
from inventory.models import ClientDocument, Flag
from inventory.services.flags import raise_flag, resolve_open_flags

FETCH_FAILED, SPECIAL_USE = "cimd.fetch_failed", "cimd.special_use_address"
INVALID_DOCUMENT, LOCALHOST_ONLY = "cimd.invalid_document", "cimd.localhost_only_redirects"
SECRET_PUBLISHED, INTERNAL_URI = "cimd.secret_published", "cimd.internal_uri"
LOCALHOST_REDIRECT = "cimd.localhost_redirect"
# Flags that describe the current document: raised for each new version, resolved when gone.
STATE_FLAGS = (INVALID_DOCUMENT, LOCALHOST_ONLY, SECRET_PUBLISHED, INTERNAL_URI, LOCALHOST_REDIRECT)


def secret_paths(problems) -> list[str]:
    """The document members a validation found holding a secret (masked before storage)."""
    return [
        p["field"]
        for p in problems
        if p["code"] == "secret_present"
        or (p["code"] == "client_secret_present" and p["field"] == "client_secret")
    ]


def raise_change_flags(client, previous: ClientDocument, version: ClientDocument) -> list[Flag]:
    """One flag per risky change from `previous` to `version` (cimd_checks.risky_changes)."""
    raised = []
    for spec in cimd_checks.risky_changes(previous.content, version.content, client.client_id):
        details = {**spec["details"], "previous_version": previous.pk, "version": version.pk}
        raised.append(
            raise_flag(
                kind=spec["kind"],
                obj=client,
                severity=spec["severity"],
                summary=spec["summary"],
                details=details,
                dedup_key=f"{version.sha256[:16]}:{details.get('field', '')}",
            )
        )
    return [flag for flag in raised if flag is not None]  # None: the Admin turned that rule off


def sync_state_flags(client, version: ClientDocument, problems, *, first: bool) -> list[Flag]:
    """Raise the flags the new version deserves; resolve the open ones it no longer does (an
    invalid version fixed, or replaced by another invalid one: that one gets its own flag)."""
    raised = [
        raise_flag(
            kind=kind,
            obj=client,
            severity=severity,
            summary=summary,
            details={**details, "version": version.pk},
        )
        for kind, severity, summary, details in _document_warnings(version, problems)
    ]
    codes = {p["code"] for p in problems}
    errors = [p for p in problems if p["severity"] == cimd_checks.ERROR]
    if errors:
        severe = codes & {"client_id_mismatch", "client_secret_present", "shared_secret_auth"}
        raised.append(
            raise_flag(
                kind=INVALID_DOCUMENT,
                obj=client,
                dedup_key=version.sha256[:16],
                severity=Flag.Severity.HIGH if severe else Flag.Severity.WARNING,
                summary=f"Client metadata document is invalid: {errors[0]['message'][:200]}",
                details={"problems": errors, "version": version.pk},
            )
        )
    raised = [flag for flag in raised if flag is not None]  # None: a rule turned off
    if first:  # a client's first document has no earlier state flags to resolve
        return raised
    resolve_open_flags(
        client,
        STATE_FLAGS,
        keep=[f.pk for f in raised],
        by="system: no longer found in the document",
    )
    return raised


def _document_warnings(version: ClientDocument, problems) -> list[tuple]:
    """(kind, severity, summary, details) of the flags a version's content deserves."""
    codes = {p["code"] for p in problems}
    redirects = (
        (version.content or {}).get("redirect_uris") if isinstance(version.content, dict) else None
    )
    found = []
    if "redirect_uris_localhost_only" in codes:
        found.append(
            (
                LOCALHOST_ONLY,
                Flag.Severity.WARNING,
                "Every redirect URI is on localhost: the client can be impersonated",
                {"redirect_uris": redirects},
            )
        )
    elif "redirect_uri_localhost" in codes:
        local = [
            u for u in redirects or [] if isinstance(u, str) and cimd_checks.is_loopback_uri(u)
        ]
        found.append(
            (
                LOCALHOST_REDIRECT,
                Flag.Severity.WARNING,
                f"A redirect URI is on localhost: {', '.join(local)[:300]}",
                {"redirect_uris": redirects, "localhost": local},
            )
        )
    secrets = secret_paths(problems)
    if secrets:
        found.append(
            (
                SECRET_PUBLISHED,
                Flag.Severity.HIGH,
                f"The document publishes a secret ({', '.join(secrets)[:200]}); masked "
                "here, but anyone could read it: rotate it",
                {"members": secrets},
            )
        )
    internal = [p for p in problems if p["code"] == "internal_uri"]
    if internal:
        found.append(
            (
                INTERNAL_URI,
                Flag.Severity.WARNING,
                f"A URI points at an internal address: {internal[0]['message'][:250]}",
                {"problems": internal},
            )
        )
    return found
