"""The revocation runner (`jobs.register_runner`): executes the steps in position order.

- A step done, skipped or failed is never run again; one found "running" (its worker died in
  the call) is redone only after a confirming read says the effect is not there yet (every
  call is idempotent, so the read only keeps the IdP from seeing a needless second call).
- A transient failure (ConnectorError.retryable: 429, 5xx, timeouts, and `still_listed`: a
  delete answered 404 for what the IdP still lists, a replica behind) is retried with
  exponential backoff, or after the IdP's own Retry-After / rate-limit reset, up to
  CONTAINMENT_STEP_MAX_ATTEMPTS tries within CONTAINMENT_RETRY_BUDGET_SECONDS; the step keeps
  its attempts and next retry time, and the job's heartbeat goes on while it waits.
- A permanent failure marks the step failed with the IdP's message and the plan goes on; a
  verification of a call that did not succeed is skipped with why.
- A task step's failure (orphans.TaskStepError) keeps the gateway's answer on the step.
- Calls are paced per connection (`revoke_rate_per_second` in its config, default
  CONTAINMENT_RATE_PER_SECOND) so a bulk revocation stays under the IdP's rate limit.
The end (outcome, proof, residual window, the "finished" event) is outcome.py's.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from governance.access import secrets
from governance.connectors import transport
from governance.connectors.base import ConnectorError, IdpGrant, NotSupported, RevokeResult
from governance.containment import console_steps, orphans, outcome, proof
from governance.containment.models import Revocation, RevocationStep
from governance.containment.reach import Reach, Resolver
from governance.containment.steps import CALL, LOCAL, TASK, VERIFY
from governance.findings.tasks import run_rules
from governance.platform import jobs
from inventory.models import Grant

log = logging.getLogger(__name__)
State = RevocationStep.State
FINISHED = (State.DONE, State.SKIPPED, State.FAILED)


class StepFailed(Exception):
    """A step that cannot succeed: its message (the IdP's) goes on the step."""

    def __init__(self, message: str, summary: dict | None = None):
        super().__init__(message)
        self.summary = summary or {}


def run_revocation(revocation: Revocation, progress: jobs.Progress) -> None:
    """The runner: every step not finished yet, in order, then the outcome and the proof."""
    run = _Run(revocation, progress)
    steps = list(revocation.steps.order_by("position"))
    # The step objects are the run's own record of each state (`_save` updates them too), so
    # a check finds its call's state here rather than in one more query.
    run.by_position = {step.position: step for step in steps}
    progress.summary["total"] = len(steps)
    for step in steps:
        if step.state not in FINISHED:
            if step.kind in (CALL, TASK):
                # Before anything leaves for an IdP or a gateway: JobLost when the sweeper gave
                # the job to another worker. Checks and console steps (reads, our own rows)
                # confirm it at most once a second: a bulk's thousand checks are not a
                # thousand job-row writes.
                progress.flush()
            else:
                progress.maybe_flush()
            run.execute(step)
        progress.record()
    outcome.finish(revocation, progress)
    # What a revocation leaves behind (tasks still running on revoked grants, blocked clients
    # still holding grants) is what the finding rules read: run them once it is committed.
    transaction.on_commit(run_rules.delay)


# A run with this many "no longer listed" checks at one connection reads that IdP's full grant
# listing once (pages of about FULL_LISTING_PAGE_GUESS grants) when that is fewer requests than
# one `grants_for` per pair: a bulk of 1,000 grants is then checked with a page or two, not
# 1,000 reads under the IdP's rate limit.
FULL_LISTING_MIN_PAIRS = 20
FULL_LISTING_PAGE_GUESS = 100


class _Run:
    def __init__(self, revocation: Revocation, progress: jobs.Progress):
        self.revocation = revocation
        self.progress = progress
        self.resolver = Resolver()
        self.next_call_at: dict[int, float] = {}  # connection id -> monotonic time
        # Listings read by the verifications (after every call): a bulk of many grants at one
        # IdP is checked against one read, not one per grant. Dropped before a re-read.
        self.listings: dict = {}
        self.full_listing: dict[int, bool] = {}  # connection id -> read the full listing
        self.by_position: dict[int, RevocationStep] = {}

    # --- one step ---------------------------------------------------------------------------

    def execute(self, step: RevocationStep) -> None:
        resumed = step.state == State.RUNNING
        try:
            if step.kind == VERIFY:
                self._verify(step)
            elif step.kind == CALL:
                self._call(step, resumed=resumed)
            elif step.kind == LOCAL:
                self._start(step)
                try:
                    self._done(step, console_steps.run_console_step(step, self.revocation))
                except ValueError as exc:
                    raise StepFailed(str(exc)) from None
            elif step.kind == TASK:
                self._start(step)
                self._done(
                    step, self._retrying(step, lambda: orphans.run_task_step(step, self.revocation))
                )
            else:
                raise StepFailed(f"unknown step kind {step.kind!r}")
        except NotSupported as exc:
            self._end(step, State.SKIPPED, error=str(exc))
        except StepFailed as exc:
            self._fail(step, str(exc), exc.summary)
        except jobs.JobLost:
            raise
        except Exception as exc:  # a bug or an odd answer fails this step, not the whole plan
            log.exception("revocation %s step %s failed", self.revocation.pk, step.position)
            self._fail(step, f"unexpected error: {type(exc).__name__}: {exc}"[:1000], {})

    def _fail(self, step, message: str, summary: dict) -> None:
        self._end(step, State.FAILED, error=message, response=summary)
        self.progress.error(f"step {step.position} ({step.description}): {message}")

    def _call(self, step: RevocationStep, *, resumed: bool) -> None:
        reach = self._reach(step)
        if resumed:
            evidence = self._confirming_read(step, reach)
            if evidence is not None:
                self._done(step, {"outcome": "already gone", "confirmed_by": evidence.text})
                return
        self._start(step)
        self._done(step, self._retrying(step, lambda: _perform(step, reach, self)))

    def _verify(self, step: RevocationStep) -> None:
        position = step.target.get("call_position")
        call = self.by_position.get(position)
        if call is None:  # a step run on its own (tests), not through run_revocation
            call = self.revocation.steps.filter(position=position).first()
        if call is None or call.state != State.DONE:
            state = call.get_state_display().lower() if call else "missing"
            why = f" ({call.error})" if call is not None and call.error else ""
            self._end(step, State.SKIPPED, error=f"not checked: its call {state}{why}")
            return
        reach = self._reach(step)
        self._start(step)
        with transport.observing() as requests:
            try:
                evidence = self._retrying(step, lambda: self._check(step, reach))
            except BaseException:
                _save(step, request_summary={"operation": step.operation, "requests": requests})
                raise
        _save(
            step,
            state=State.DONE,
            verified=evidence.verified,
            evidence=evidence.text,
            finished_at=timezone.now(),
            next_retry_at=None,
            request_summary={"operation": step.operation, "requests": requests},
        )

    def _check(self, step, reach) -> proof.Evidence:
        """The check, read again a few times while it says "not yet" (some IdPs drop a grant
        eventually, not at once: Auth0's refresh tokens)."""
        for attempt in range(settings.CONTAINMENT_VERIFY_ATTEMPTS):
            evidence = proof.verify(
                step,
                reach.connector,
                cache=self.listings,
                prefer_full=self._prefer_full_listing(reach),
                before_read=lambda: self.pace(reach),
            )
            if evidence.verified or attempt + 1 == settings.CONTAINMENT_VERIFY_ATTEMPTS:
                return evidence
            self.listings.clear()
            self.wait(settings.CONTAINMENT_RETRY_BASE_SECONDS * 2**attempt)
        return evidence

    def _prefer_full_listing(self, reach: Reach) -> bool:
        """Whether this run's "no longer listed" checks at `reach` cost fewer requests as one
        full listing than as one `grants_for` per pair: many pairs to check against an IdP
        whose grants (as the ledger counts them) fill few pages."""
        key = reach.connection.pk
        if key not in self.full_listing:
            pairs = self.revocation.steps.filter(
                kind=VERIFY, operation="verify_absent", connection_id=key
            ).count()
            issuers = reach.connection.issuers.values("issuer")
            ledger = Grant.objects.filter(issuer__in=issuers, vanished_at__isnull=True).count()
            self.full_listing[key] = pairs >= FULL_LISTING_MIN_PAIRS and (
                pairs > ledger / FULL_LISTING_PAGE_GUESS
            )
        return self.full_listing[key]

    def _confirming_read(self, step, reach) -> proof.Evidence | None:
        try:
            self.pace(reach)
            return proof.confirm_done(step, reach.connector)
        except ConnectorError:  # no answer: redo the (idempotent) call
            return None

    def _reach(self, step) -> Reach:
        reach = self.resolver.for_connection_id(step.connection_id)
        if reach.problem:
            kind = reach.connection.kind if reach.connection else "unknown"
            raise NotSupported(kind, step.operation, reach.problem)
        return reach

    # --- retries, pacing, waiting -----------------------------------------------------------

    def _retrying(self, step: RevocationStep, fn):
        """fn(), retried on transient failures; StepFailed with the IdP's message otherwise."""
        deadline = time.monotonic() + settings.CONTAINMENT_RETRY_BUDGET_SECONDS
        tries = 0
        while True:
            tries += 1
            _save(step, attempts=step.attempts + 1, next_retry_at=None)
            try:
                return fn()
            except NotSupported:
                raise
            except (ConnectorError, orphans.TaskStepError) as exc:
                wait = _backoff(exc, tries)
                last = tries >= settings.CONTAINMENT_STEP_MAX_ATTEMPTS
                if not exc.retryable or last or time.monotonic() + wait > deadline:
                    raise StepFailed(_message(exc, tries), _failure_summary(exc)) from None
                _save(
                    step,
                    next_retry_at=timezone.now() + timedelta(seconds=wait),
                    error=f"attempt {tries}: {exc}"[:2000],
                    response_summary=_failure_summary(exc),
                )
                self.wait(wait)

    def pace(self, reach: Reach) -> None:
        """Wait until this connection may take another call (its requests-per-second)."""
        if reach.connection is None:
            return
        rate = _rate(reach.connection)
        now = time.monotonic()
        at = max(self.next_call_at.get(reach.connection.pk, now), now)
        self.next_call_at[reach.connection.pk] = at + 1.0 / rate
        if at > now:
            self.wait(at - now)

    def wait(self, seconds: float) -> None:
        """Sleep, flushing progress every second: the job stays visibly alive while waiting."""
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(left, 1.0))
            self.progress.maybe_flush()

    # --- writing a step's state -------------------------------------------------------------

    def _start(self, step) -> None:
        _save(step, state=State.RUNNING, started_at=step.started_at or timezone.now())

    def _done(self, step, response) -> None:
        _save(
            step,
            state=State.DONE,
            response_summary=response or {},
            error="",
            next_retry_at=None,
            finished_at=timezone.now(),
        )

    def _end(self, step, state, *, error="", response=None) -> None:
        fields = {"state": state, "error": error[:2000], "finished_at": timezone.now()}
        if response:
            fields["response_summary"] = response
        _save(step, next_retry_at=None, **fields)


def _save(step: RevocationStep, **fields) -> None:
    for name, value in fields.items():
        setattr(step, name, value)
    RevocationStep.objects.filter(pk=step.pk).update(**fields)


def _rate(connection) -> float:
    try:
        rate = float(connection.config.get("revoke_rate_per_second") or 0)
    except (TypeError, ValueError):
        rate = 0
    return rate if rate > 0 else settings.CONTAINMENT_RATE_PER_SECOND


def _backoff(exc, tries: int) -> float:
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        wait = retry_after
    else:
        wait = settings.CONTAINMENT_RETRY_BASE_SECONDS * 2 ** (tries - 1)
    return min(max(wait, 0.0), settings.CONTAINMENT_RETRY_MAX_WAIT_SECONDS)


def _message(exc, tries: int) -> str:
    if exc.retryable:
        return f"{exc} (gave up after {tries} attempt(s))"
    return str(exc)


def _path(endpoint: str) -> str:
    """The URL path only (no host, no query: a query may carry an id, never a token here)."""
    return urlsplit(endpoint).path if endpoint else ""


def _failure_summary(exc) -> dict:
    if isinstance(exc, orphans.TaskStepError):
        # The gateway's answer as the task step recorded it (webhook id, status, its body).
        return {"message": exc.message[:500], **exc.summary}
    if not isinstance(exc, ConnectorError):
        return {"message": str(exc)[:500]}
    return {
        "call": exc.call,
        "path": _path(exc.endpoint),
        "status": exc.status,
        "error_code": exc.error_code,
        "message": exc.message[:500],
    }


# How a RevokeResult reads on the step: of a revoke, and of an undo (reactivate_client_grants
# answers RESTORED, or ALREADY_ABSENT for what was active already).
_SAID = {RevokeResult.REVOKED: "revoked", RevokeResult.ALREADY_ABSENT: "already gone"}
_SAID_UNDO = {RevokeResult.RESTORED: "restored", RevokeResult.ALREADY_ABSENT: "already active"}


def _results(results, *, undo: bool = False) -> dict:
    results = [results] if isinstance(results, RevokeResult) else list(results or [])
    said = _SAID_UNDO if undo else _SAID
    rows = [
        {
            "outcome": said.get(r.outcome, r.outcome),
            "target": r.target[:80],
            "path": _path(r.endpoint),
            "status": r.status,
        }
        for r in results
    ]
    untouched = bool(results) and all(r.outcome == RevokeResult.ALREADY_ABSENT for r in results)
    outcome = said[RevokeResult.ALREADY_ABSENT] if untouched else "done"
    return {"outcome": outcome, "results": rows[:50], "count": len(rows)}


def _perform(step: RevocationStep, reach: Reach, run: _Run) -> dict:
    """One IdP call; the summary of its answer (never a token)."""
    connector, target, op = reach.connector, step.target, step.operation
    run.pace(reach)
    _save(step, request_summary=_request_summary(step, reach))
    with transport.observing() as requests:
        try:
            answer = _call_connector(connector, op, target)
        finally:
            # What was sent, whatever came back: method, URL path, status (never a token).
            step.request_summary = {**step.request_summary, "requests": requests}
            _save(step, request_summary=step.request_summary)
    return answer


def _call_connector(connector, op: str, target: dict) -> dict:
    if op == "revoke":
        return _results(connector.revoke(_idp_grant(target)))
    if op == "revoke_token":
        return _results(connector.revoke(secrets.decrypt(target["token_encrypted"])))
    if op == "revoke_user_client":
        return _results(connector.revoke_user_client(target["subject"], target["client_id"]))
    if op == "cut_off_identity":
        return _results(connector.cut_off_identity(target["subject"]))
    if op == "revoke_client_grants":
        return _results(connector.revoke_client_grants(target["client_id"]))
    if op == "reactivate_client_grants":
        return _results(connector.reactivate_client_grants(target["client_id"]), undo=True)
    if op == "deactivate":
        connector.deactivate(target["client_id"])
        return {"outcome": "deactivated"}
    if op == "reactivate":
        connector.reactivate(target["client_id"])
        return {"outcome": "reactivated"}
    raise StepFailed(f"unknown call {op!r}")


def _request_summary(step, reach) -> dict:
    summary = {"operation": step.operation, "connection": reach.name, "kind": reach.connection.kind}
    for key in ("external_id", "subject", "client_id", "token_hint"):
        if step.target.get(key):
            summary[key] = step.target[key]
    return summary


def _idp_grant(target: dict) -> IdpGrant:
    """The grant as the connector listed it (its raw record: some kinds revoke by its parts)."""
    grant = Grant.objects.filter(pk__in=target.get("grant_ids") or [0]).first()
    subject, client_id = target.get("subject", ""), target.get("client_id", "")
    external_id = target.get("external_id", "")
    # Keycloak and Google grants have no id: the ledger keys them "subject:client".
    idp_id = "" if external_id == f"{subject}:{client_id}" else external_id
    return IdpGrant(
        idp_id=idp_id,
        subject=subject,
        client_id=client_id,
        scopes=tuple(grant.scopes) if grant else (),
        grant_type=target.get("grant_type", ""),
        raw=dict(grant.raw) if grant else {},
    )
