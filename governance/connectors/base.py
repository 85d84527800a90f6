"""The one interface every IdP connector implements, and the plain data it returns.

A connector talks to one identity provider (or any OAuth 2.0 authorization server) and nothing
else: no database, no Django models, no transactions. It returns frozen dataclasses; the
services that call it (IdP syncs, revocation jobs) decide what to store and what to record.
"""

from __future__ import annotations

import abc
import datetime
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

# The capability names a kind declares in `Connector.capabilities`; `verify()` reports each.
VERIFY = "verify"
LIST_IDENTITIES = "list_identities"
LIST_CLIENTS = "list_clients"
LIST_GRANTS = "list_grants"
REVOKE = "revoke"
INTROSPECT = "introspect"
DEACTIVATE = "deactivate"
# Containment (issue 13): everything one identity granted one client; an identity's sessions and
# tokens everywhere; a client's own grants (client credentials, Cross App Access connections).
REVOKE_USER_CLIENT = "revoke_user_client"
CUT_OFF_IDENTITY = "cut_off_identity"
REVOKE_CLIENT_GRANTS = "revoke_client_grants"
ALL_CAPABILITIES = (LIST_IDENTITIES, LIST_CLIENTS, LIST_GRANTS, REVOKE, INTROSPECT, DEACTIVATE)
# Containment capabilities are reported by `verify()` only by kinds that declare them (so the
# connection page of a read-only kind does not fill with lines it never claimed).
CONTAINMENT_CAPABILITIES = (REVOKE_USER_CLIENT, CUT_OFF_IDENTITY, REVOKE_CLIENT_GRANTS)

# Failures with no HTTP answer that may pass (the safe fetcher's reasons for them), and a 404
# the IdP's own listing contradicts (`confirm_absent`): Graph replicates and Auth0 revokes
# refresh tokens eventually, so a later try may find it gone.
TRANSIENT_CODES = frozenset(
    {"timeout", "connect_error", "protocol_error", "rate_limited", "still_listed"}
)


class ConnectorError(Exception):
    """An IdP call that failed, described so a security engineer can act on it: which call,
    which endpoint, the HTTP status and the IdP's own error code."""

    def __init__(
        self,
        message: str,
        *,
        call: str,
        endpoint: str = "",
        status: int | None = None,
        error_code: str = "",
        retry_after: float | None = None,
    ):
        self.message = message
        self.call = call
        self.endpoint = endpoint
        self.status = status
        self.error_code = error_code
        self.retry_after = retry_after
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [f"{self.call} failed"]
        if self.endpoint:
            parts.append(f"at {self.endpoint}")
        if self.status is not None:
            parts.append(f"(HTTP {self.status}{', ' + self.error_code if self.error_code else ''})")
        elif self.error_code:
            parts.append(f"({self.error_code})")
        return f"{' '.join(parts)}: {self.message}"

    @classmethod
    def unexpected_shape(cls, key: str, *, call: str, endpoint: str) -> ConnectorError:
        """An answer without the part the call reads (`key`): the IdP changed, or is not one."""
        return cls(
            f"expected {key!r} in the answer",
            call=call,
            endpoint=endpoint,
            error_code="invalid_response",
        )

    @property
    def retryable(self) -> bool:
        """True for failures worth retrying later (rate limits, 5xx, timeouts, refused): not
        for a refused address, a wrong secret or an unsupported call."""
        if self.retry_after is not None or (self.status or 0) >= 500:
            return True
        return self.status is None and self.error_code in TRANSIENT_CODES


class StateExpired(ConnectorError):
    """The IdP no longer knows an incremental state (Graph's 410): start a full round."""


class NotSupported(ConnectorError):
    """The kind (or this connection's config) cannot do `capability`: never a silent empty list."""

    def __init__(self, kind: str, capability: str, why: str):
        self.capability = capability
        self.kind = kind
        super().__init__(why, call=capability, error_code="not_supported")

    def _describe(self) -> str:
        return (
            f"{self.capability} is not supported by this {self.kind!r} connection: {self.message}"
        )


@dataclass(frozen=True)
class Check:
    """One line of `verify()`: a capability and whether this connection can use it."""

    capability: str
    ok: bool
    detail: str  # what was checked, or which endpoint / permission is missing


@dataclass(frozen=True)
class IdpIdentity:
    """A user or service account as the IdP lists it."""

    idp_id: str
    subject: str
    display_name: str = ""
    email: str = ""
    active: bool = True
    kind: str = ""  # "human", "service" or "agent" (inventory's Identity.Kind); "" = not said
    # Links by the IdP's subject of the other identity ("" when none): a person's manager, an
    # agent identity's sponsor, a service account's owner.
    manager: str = ""
    sponsor: str = ""
    owner: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class IdpClient:
    """An OAuth client (application) registered at the IdP."""

    idp_id: str
    client_id: str
    name: str = ""
    active: bool = True
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class IdpGrant:
    """A delegated grant, normalised across IdPs: who let which client do what, since when and
    until when. `idp_id` is the IdP's own id for it ("" when it has none: Keycloak and Google
    key grants by user and client)."""

    idp_id: str
    subject: str
    client_id: str
    scopes: tuple[str, ...] = ()
    created: datetime.datetime | None = None
    expires: datetime.datetime | None = None
    grant_type: str = ""
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class GrantChanges:
    """The grants changed since an incremental state, and the state for the next call."""

    changed: tuple[IdpGrant, ...]
    removed: tuple[str, ...]  # idp_ids the IdP reports as deleted
    state: str  # opaque (Graph: the @odata.deltaLink): pass it to the next grant_changes()


@dataclass(frozen=True)
class TokenStatus:
    """What the IdP says about one token (RFC 7662): active or not, and whose."""

    active: bool
    client_id: str = ""
    subject: str = ""
    scopes: tuple[str, ...] = ()
    expires: datetime.datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class RevokeResult:
    """The outcome of a revoke (or of its undo). Every outcome is success: a revoke is
    idempotent, and a failure is a ConnectorError."""

    REVOKED = "revoked"  # the IdP accepted the revocation (RFC 7009 gives no more than this)
    ALREADY_ABSENT = "already_absent"  # the IdP said the grant was not there (e.g. a 404)
    # Only from reactivate_client_grants: the IdP accepted the undo (e.g. a Cross App Access
    # connection set ACTIVE again); one already active there is `already_absent`.
    RESTORED = "restored"

    outcome: str
    target: str  # the grant id, or a token's first characters: never the whole token
    endpoint: str = ""
    status: int | None = None


class Connector(abc.ABC):
    """One connection to one IdP. Subclasses set `kind` and `capabilities` and implement what
    they declare; everything else raises NotSupported through `unsupported()`."""

    kind: str = ""
    capabilities: frozenset[str] = frozenset()
    # True when `grant_changes(state)` reads only what changed since the last round; it covers
    # the grant types in `incremental_grant_types`, `list_other_grants` lists the rest in full.
    supports_incremental: bool = False
    # True when `reactivate_client_grants` restores what `revoke_client_grants` set inactive
    # (Okta's Cross App Access connections); elsewhere revoked grants are gone for good, and an
    # undo says so instead of planning a call that cannot succeed.
    restores_client_grants: bool = False
    incremental_grant_types: frozenset[str] = frozenset()

    def __init__(self, config: dict[str, Any], secret: str):
        self.config = dict(config)
        self.secret = secret

    def __repr__(self) -> str:  # never the secret
        return f"<{type(self).__name__} kind={self.kind!r}>"

    def supports(self, capability: str) -> bool:
        """Whether this connection (kind and config) can do `capability`."""
        return capability in self.capabilities

    # What this kind cannot do and why (capability -> reason), said by `unsupported()`.
    why_not: ClassVar[dict[str, str]] = {}

    def unsupported(self, capability: str, why: str = "") -> NotSupported:
        """The error to raise for a capability this connection does not have: `why` as given,
        else the kind's `why_not` reason, else that the connector cannot do it."""
        action = capability.replace("_", " ")
        if not why and capability in self.why_not:
            why = f"cannot {action}: {self.why_not[capability]}"
        return NotSupported(
            self.kind, capability, why or f"the {self.kind!r} connector cannot {action}"
        )

    def checks(self, probe: Callable[[str], str]) -> list[Check]:
        """`verify()` for kinds that probe each capability alike: an unsupported capability is a
        failed Check with the reason, each other one is `probe(capability)` (what answered), and
        a ConnectorError from a probe is that capability's failed Check."""
        checks = []
        for capability in self.reported_capabilities():
            if capability not in self.capabilities:
                checks.append(Check(capability, False, str(self.unsupported(capability))))
                continue
            try:
                checks.append(Check(capability, True, probe(capability)))
            except ConnectorError as exc:
                checks.append(Check(capability, False, str(exc)))
        return checks

    def reported_capabilities(self) -> tuple[str, ...]:
        """What `verify()` reports on: every base capability, and the containment ones this
        connection declares."""
        declared = tuple(c for c in CONTAINMENT_CAPABILITIES if c in self.capabilities)
        return ALL_CAPABILITIES + declared

    @abc.abstractmethod
    def verify(self) -> list[Check]:
        """One harmless call per capability; a Check for each (including the unsupported ones,
        ok=False with the reason). Raises nothing for a failing capability: it reports it."""

    def list_identities(self) -> Iterator[IdpIdentity]:
        """Every user and service account the IdP holds."""
        raise self.unsupported(LIST_IDENTITIES)

    def list_clients(self) -> Iterator[IdpClient]:
        """Every OAuth client registered at the IdP."""
        raise self.unsupported(LIST_CLIENTS)

    def list_grants(self) -> Iterator[IdpGrant]:
        """Every delegated grant (consent, refresh token) the IdP holds."""
        raise self.unsupported(LIST_GRANTS)

    def grant_changes(self, state: str = "") -> GrantChanges:
        """The grants changed since `state` ("" = a first, full round, which lists every grant
        `list_grants` would); raises StateExpired when the IdP no longer knows `state`.
        Only for connectors with `supports_incremental`."""
        raise self.unsupported(LIST_GRANTS, f"the {self.kind!r} connector reads no changes")

    def list_other_grants(self) -> Iterator[IdpGrant]:
        """Every grant `grant_changes` does not cover (its types are not in
        `incremental_grant_types`): with it, a round of changes sees every grant type."""
        raise self.unsupported(LIST_GRANTS, f"the {self.kind!r} connector reads no changes")

    def revoke(self, grant_or_token: IdpGrant | str) -> RevokeResult:
        """Revoke a listed grant or a token value; revoking what is already gone succeeds."""
        raise self.unsupported(REVOKE)

    def introspect(self, token: str) -> TokenStatus:
        """Whether a token is still active (how a revoke is verified)."""
        raise self.unsupported(INTROSPECT)

    def deactivate(self, client_id: str) -> None:
        """Stop a client from getting new tokens (disable the application / service principal /
        agent identity). Deactivating an inactive client succeeds."""
        raise self.unsupported(DEACTIVATE)

    # --- containment (issue 13) ------------------------------------------------------------------
    # Every call here is idempotent: doing it twice, or after the IdP already dropped the thing,
    # succeeds (RevokeResult.ALREADY_ABSENT after a confirming read). Failures raise
    # ConnectorError with `retry_after` set from the IdP's rate-limit headers when it sent them.

    def reactivate(self, client_id: str) -> None:
        """Undo `deactivate`: the client may get tokens again (where the IdP allows it).
        Reactivating an active client succeeds."""
        raise self.unsupported(DEACTIVATE, self._why_not_deactivate("reactivate"))

    def client_active(self, client_id: str) -> bool:
        """Whether the IdP lists the client as active (the proof of a deactivation)."""
        raise self.unsupported(DEACTIVATE, self._why_not_deactivate("read a client"))

    def _why_not_deactivate(self, action: str) -> str:
        if DEACTIVATE in self.why_not:  # the kind's own reason says more than ours
            return f"cannot {action}: {self.why_not[DEACTIVATE]}"
        return f"the {self.kind!r} connector cannot {action}"

    def grants_for(self, subject: str, client_id: str) -> list[IdpGrant]:
        """Every grant (consent, refresh token) `subject` gave `client_id` that the IdP still
        lists: what a revocation is verified against ("no longer listed")."""
        raise self.unsupported(REVOKE_USER_CLIENT)

    def revoke_user_client(self, subject: str, client_id: str) -> list[RevokeResult]:
        """Revoke everything `subject` granted `client_id` (grants, consents, refresh tokens)."""
        raise self.unsupported(REVOKE_USER_CLIENT)

    def cut_off_identity(self, subject: str) -> list[RevokeResult]:
        """End the identity's sessions and revoke its tokens at this IdP, every client."""
        raise self.unsupported(CUT_OFF_IDENTITY)

    def revoke_client_grants(self, client_id: str) -> list[RevokeResult]:
        """Revoke the client's own grants: client-credentials grants, its refresh tokens, and
        set its Cross App Access connections inactive (the kill switch's second half)."""
        raise self.unsupported(REVOKE_CLIENT_GRANTS)

    def reactivate_client_grants(self, client_id: str) -> list[RevokeResult]:
        """Undo what `revoke_client_grants` can undo (Cross App Access connections active)."""
        raise self.unsupported(
            REVOKE_CLIENT_GRANTS, f"the {self.kind!r} connector cannot restore client grants"
        )


def nothing_to_revoke(target: str, endpoint: str) -> list[RevokeResult]:
    """The answer of a containment call whose listing found nothing left to revoke (a second
    call, or the IdP never had it): one `already_absent` naming what was looked at and where,
    so the caller sees the call ran."""
    return [RevokeResult(RevokeResult.ALREADY_ABSENT, target, endpoint)]


def confirm_absent(
    results: list[RevokeResult], still_listed: Callable[[], set[str]], *, call: str
) -> list[RevokeResult]:
    """`results` once a confirming read agrees: a delete the IdP answered 404 counts as
    already absent only if what it names is no longer listed (`still_listed()` gives the
    targets the IdP still lists). A 404 for something still listed is an error (a replica
    behind, retryable; or a wrong path), never a silent success."""
    absent = {
        r.target
        for r in results
        if r.outcome == RevokeResult.ALREADY_ABSENT and (r.status or 0) >= 400  # a delete's 404
    }
    if not absent:
        return results
    still = sorted(absent & still_listed())
    if still:
        raise ConnectorError(
            f"the IdP answered 'not found' to the delete but still lists {', '.join(still[:3])}",
            call=call,
            error_code="still_listed",
        )
    return results
