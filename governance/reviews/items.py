"""What a campaign's items hold when it opens: each grant's context snapshot, the console's
recommendation and its reviewer. Pure reads and plain data; services.open_campaign writes them
in one bulk_create.

Recommendation (issue 16 §1, and what IGA tools do: compliance-siem.md §A2): revoke when the
grant went unused for REVOKE_UNUSED_DAYS or more, its identity is disabled, or the IdP no longer
lists it; keep otherwise, with a note from NOTE_UNUSED_DAYS on ("unused for 41 days") so the
reviewer looks twice. "Unused" counts from the last use, or from the grant's issue when it was
never used.

Reviewer: the owner the campaign's rule names (the client's owner; the identity's owner, sponsor
or manager), when that owner's email is a console user's who holds a role; else the fallback
reviewer; else the named reviewers in turn.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from itertools import cycle

from django.contrib.auth import get_user_model
from django.db.models.functions import Lower

from governance.access.roles import has_role
from inventory.models import Finding, Grant, Identity

REVOKE_UNUSED_DAYS = 90
NOTE_UNUSED_DAYS = 30
# Findings a reviewer should hear about: not resolved, and not suppressed by someone who decided.
FINDING_OPEN_STATUSES = (Finding.Status.OPEN, Finding.Status.ACKNOWLEDGED)


@dataclass
class Draft:
    """One item before it is written."""

    grant: Grant
    context: dict
    recommendation: str
    reason: str
    owner_email: str = ""
    reviewer: object | None = None


@dataclass
class Assignment:
    """How reviewers were found: by owner, by fallback, in turn among the named."""

    by_owner: int = 0
    by_fallback: int = 0
    in_turn: int = 0
    unassigned: list[int] = field(default_factory=list)  # grant ids


def drafts(grants, *, rule: str, now) -> list[Draft]:
    """A Draft per grant (select_related is the caller's: subject, its owners, client, server)."""
    grants = list(grants)
    findings = open_findings(grants)
    result = []
    for grant in grants:
        context = snapshot(grant, now, findings)
        recommendation, reason = recommend(grant, context)
        result.append(Draft(grant, context, recommendation, reason, owner_email(grant, rule)))
    return result


def snapshot(grant: Grant, now, findings: dict) -> dict:
    """What the reviewer sees, kept as it was when the campaign opened."""
    subject, client, server = grant.subject, grant.client, grant.server
    kinds = sorted({kind for key in _object_keys(grant) for kind in findings.get(key, [])})
    count = sum(len(findings.get(key, [])) for key in _object_keys(grant))
    return {
        "grant": {"id": grant.pk, "external_id": grant.external_id, "issuer": grant.issuer},
        "identity": None
        if subject is None
        else {
            "id": subject.pk,
            "name": str(subject),
            "kind": subject.kind,
            "status": subject.status,
            "email": subject.email,
        },
        "client": {"id": client.pk, "client_id": client.client_id, "name": str(client)},
        "server": None if server is None else {"id": server.pk, "name": str(server)},
        "resource": grant.resource,
        "scopes": list(grant.scopes),
        "grant_type": grant.grant_type,
        "issued_at": _iso(grant.issued_at),
        "expires_at": _iso(grant.expires_at),
        "last_used_at": _iso(grant.last_used_at),
        "vanished_at": _iso(grant.vanished_at),
        "unused_days": unused_days(grant, now),
        "findings": {"count": count, "kinds": kinds},
    }


def unused_days(grant: Grant, now) -> int | None:
    """Whole days since the grant was last used (or issued, never used); None if unknown."""
    since = grant.last_used_at or grant.issued_at or grant.first_seen
    return None if since is None else max((now - since).days, 0)


def recommend(grant: Grant, context: dict) -> tuple[str, str]:
    """("revoke" | "keep", why): see the module's docstring."""
    days = context["unused_days"]
    used = "never used" if grant.last_used_at is None else "not used"
    identity = context["identity"]
    if identity and identity["status"] == Identity.Status.DISABLED:
        return "revoke", "The identity is disabled at its IdP."
    if grant.vanished_at is not None:
        return "revoke", "The IdP no longer lists this grant."
    if days is not None and days >= REVOKE_UNUSED_DAYS:
        return "revoke", f"{used.capitalize()} for {days} days (≥ {REVOKE_UNUSED_DAYS})."
    if days is not None and days >= NOTE_UNUSED_DAYS:
        return "keep", f"In use, but {used} for {days} days (≥ {NOTE_UNUSED_DAYS}): still needed?"
    if grant.last_used_at is None:
        return "keep", "Issued recently and not used yet."
    return "keep", f"Used {days} day{'s' if days != 1 else ''} ago."


def owner_email(grant: Grant, rule: str) -> str:
    """The email of who answers for the grant under `rule` ("" when nobody is known)."""
    if rule == "client_owner":
        owner = grant.client.owner
        return (owner.email if owner else "").lower()
    if rule == "identity_owner" and grant.subject is not None:
        subject = grant.subject
        for person in (subject.owner, subject.sponsor, subject.manager):
            if person is not None and person.email:
                return person.email.lower()
    return ""


def assign(drafts_: list[Draft], *, fallback, named: list) -> Assignment:
    """Set each draft's reviewer; returns how (the grant ids left without one are listed)."""
    users = console_users_by_email({d.owner_email for d in drafts_ if d.owner_email})
    turns = cycle(named) if named else None
    done = Assignment()
    for draft in drafts_:
        owner = users.get(draft.owner_email)
        if owner is not None:
            draft.reviewer, done.by_owner = owner, done.by_owner + 1
        elif fallback is not None:
            draft.reviewer, done.by_fallback = fallback, done.by_fallback + 1
        elif turns is not None:
            draft.reviewer, done.in_turn = next(turns), done.in_turn + 1
        else:
            done.unassigned.append(draft.grant.pk)
    return done


def console_users_by_email(emails: set[str]) -> dict:
    """Active console users with a role, by lower-cased email (one query; the first by id wins
    when two users share an address)."""
    if not emails:
        return {}
    User = get_user_model()
    found = (
        User.objects.annotate(email_lower=Lower("email"))
        .filter(is_active=True, email_lower__in=emails)
        .prefetch_related("groups")
        .order_by("id")
    )
    users: dict = {}
    for user in found:
        if has_role(user, "Viewer"):
            users.setdefault(user.email_lower, user)
    return users


def open_findings(grants: list[Grant]) -> dict[tuple[str, str], list[str]]:
    """(object_type, object_id) -> kinds of its open findings, for every object the grants touch
    (the grant, its identity, client and server): one query."""
    keys = {key for grant in grants for key in _object_keys(grant)}
    by_type: dict[str, set[str]] = defaultdict(set)
    for object_type, object_id in keys:
        by_type[object_type].add(object_id)
    found: dict[tuple[str, str], list[str]] = defaultdict(list)
    if not keys:
        return found
    rows = Finding.objects.none()
    for object_type, ids in by_type.items():
        rows = rows | Finding.objects.filter(object_type=object_type, object_id__in=ids)
    for object_type, object_id, kind in rows.filter(status__in=FINDING_OPEN_STATUSES).values_list(
        "object_type", "object_id", "kind"
    ):
        found[(object_type, object_id)].append(kind)
    return found


def _object_keys(grant: Grant) -> list[tuple[str, str]]:
    keys = [("inventory.grant", str(grant.pk)), ("inventory.client", str(grant.client_id))]
    if grant.subject_id:
        keys.append(("inventory.identity", str(grant.subject_id)))
    if grant.server_id:
        keys.append(("inventory.server", str(grant.server_id)))
    return keys


def _iso(value) -> str | None:
    return value.isoformat() if value else None
