"""Proof that a revocation took (issue 13 §3): the verification steps and their evidence, the
confirming read before a call found "running" is redone, and the residual window.

Every check reads the IdP back: the grant is no longer listed (`grants_for`, or the full
listing where the kind has no narrower read), RFC 7662 introspection answers `active: false`
for a token the Admin supplied, the client is inactive. Evidence is a sentence for the page;
it names endpoints and ids, never a token (a token appears as its first 6 characters).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from governance.access import secrets
from governance.connectors.base import LIST_GRANTS, Connector, IdpGrant, NotSupported
from inventory.models import Grant

# Entra does not revoke issued access tokens: they live out their lifetime (60-90 minutes).
ENTRA_ACCESS_TOKEN_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True)
class Evidence:
    verified: bool
    text: str


def listed(
    connector: Connector,
    subject: str,
    client_id: str,
    *,
    cache: dict | None = None,
    prefer_full: bool = False,
    before_read=None,
) -> list[IdpGrant]:
    """What the IdP still lists that `subject` gave `client_id`: `grants_for` where the kind
    has it, else its full grant listing filtered (NotSupported when it has neither). `cache`
    keeps the reads of one verification pass (keyed by connector). `prefer_full`: read the
    full listing once instead of one `grants_for` per pair (a bulk of many pairs at one IdP).
    `before_read()` runs before each read that goes to the IdP (the runner's pacing): an
    answer from the cache costs no request, so it waits for nothing."""
    cache = {} if cache is None else cache
    pair = (id(connector), subject, client_id)
    everything = (id(connector), "*")
    if pair in cache:
        return cache[pair]
    if everything not in cache and not (prefer_full and connector.supports(LIST_GRANTS)):
        try:
            if before_read is not None:
                before_read()
            cache[pair] = connector.grants_for(subject, client_id)
            return cache[pair]
        except NotSupported:
            if not connector.supports(LIST_GRANTS):
                raise
    if everything not in cache:
        if before_read is not None:
            before_read()
        cache[everything] = list(connector.list_grants())
    cache[pair] = [
        g for g in cache[everything] if g.client_id == client_id and g.subject == subject
    ]
    return cache[pair]


def _matches(grant: IdpGrant, external_id: str) -> bool:
    if grant.idp_id:
        return grant.idp_id == external_id
    return f"{grant.subject}:{grant.client_id}" == external_id


def check_absent(
    connector: Connector, target: dict, *, cache: dict | None = None, **reading
) -> Evidence:
    """The grant (or, without an external id, everything of subject → client) is not listed.
    `reading`: `listed`'s prefer_full and before_read."""
    subject, client_id = target.get("subject", ""), target.get("client_id", "")
    remaining = listed(connector, subject, client_id, cache=cache, **reading)
    external_id = target.get("external_id")
    if external_id:
        still = [g for g in remaining if _matches(g, external_id)]
        if still:
            return Evidence(False, f"the IdP still lists grant {external_id}")
        return Evidence(True, f"grant {external_id} is no longer listed by the IdP")
    if remaining:
        ids = ", ".join(g.idp_id or "(unnamed)" for g in remaining[:5])
        return Evidence(False, f"the IdP still lists {len(remaining)} grant(s) of the pair: {ids}")
    return Evidence(True, f"the IdP lists nothing {subject or '(no subject)'} gave {client_id}")


def check_token(connector: Connector, target: dict) -> Evidence:
    """RFC 7662: the token the Admin supplied introspects inactive."""
    token = secrets.decrypt(target["token_encrypted"])
    status = connector.introspect(token)
    hint = target.get("token_hint", "the token")
    if status.active:
        return Evidence(False, f"introspection answered active=true for {hint}")
    return Evidence(True, f"introspection answered active=false for {hint}")


def check_client(connector: Connector, target: dict, *, want_active: bool) -> Evidence:
    client_id = target.get("client_id", "")
    active = connector.client_active(client_id)
    state = "active" if active else "inactive"
    return Evidence(active == want_active, f"the IdP lists {client_id} as {state}")


def verify(
    step, connector: Connector, *, cache: dict | None = None, prefer_full=False, before_read=None
) -> Evidence:
    """Run one verification step's check (ConnectorError / NotSupported propagate);
    `before_read()` runs before each request it sends (see `listed`)."""
    operation, target = step.operation, step.target
    if operation == "verify_absent":
        return check_absent(
            connector, target, cache=cache, prefer_full=prefer_full, before_read=before_read
        )
    if before_read is not None:
        before_read()
    if operation == "verify_introspection":
        return check_token(connector, target)
    if operation in ("verify_client_inactive", "verify_client_active"):
        return check_client(connector, target, want_active=operation == "verify_client_active")
    raise ValueError(f"unknown verification {operation!r}")


# What a call's effect looks like when it already happened: read before a call that was
# "running" when its worker died is redone (each call is idempotent; the read keeps the IdP's
# own count of calls honest and the record says "already gone").
_CONFIRMING = {
    "revoke": lambda c, t: check_absent(c, t),
    "revoke_user_client": lambda c, t: check_absent(c, {**t, "external_id": ""}),
    "revoke_token": lambda c, t: check_token(c, t),
    "deactivate": lambda c, t: check_client(c, t, want_active=False),
    "reactivate": lambda c, t: check_client(c, t, want_active=True),
}


def confirm_done(step, connector: Connector) -> Evidence | None:
    """Evidence that a call's effect is already there (None: no read can tell, or it is not)."""
    check = _CONFIRMING.get(step.operation)
    if check is None:
        return None
    evidence = check(connector, step.target)
    return evidence if evidence.verified else None


def residual_window(revocation, *, now=None) -> tuple[list[dict], object]:
    """What the revocation cannot close, and when the last of it ends (None: unknown)."""
    now = now or timezone.now()
    grants = Grant.objects.filter(pk__in=revocation.grant_ids or [])
    items, untils = [], []
    jwt = grants.filter(access_token_expires_at__gt=now)
    latest = max(jwt.values_list("access_token_expires_at", flat=True), default=None)
    if latest:
        items.append(
            {
                "what": f"self-contained access tokens of {jwt.count()} grant(s) stay valid "
                "until their exp",
                "until": latest.isoformat(),
            }
        )
        untils.append(latest)
    kinds = set(
        revocation.steps.filter(kind="call", state="done").values_list(
            "connection__kind", flat=True
        )
    )
    if "entra" in kinds:
        until = now + ENTRA_ACCESS_TOKEN_LIFETIME
        items.append(
            {
                "what": "Entra: existing access tokens stay valid for their lifetime (up to ~1 h)",
                "until": until.isoformat(),
            }
        )
        untils.append(until)
    jag = grants.exclude(id_jag_jti="").count()
    if jag:
        items.append(
            {
                "what": f"tokens resource authorization servers minted from the ID-JAG of {jag} "
                "grant(s) stay valid until their own exp (not known to the console)",
                "until": None,
            }
        )
    return items, max(untils, default=None)
