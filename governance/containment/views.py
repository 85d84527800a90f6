"""Governance -> Revocations: the confirm pages an Admin reaches from the page of what an action
acts on (grant, identity, client, the grants list), the revocation's live progress, its undo,
and the list.

Viewers and up read revocations; only Admins see the confirm pages and POST them (CSRF). The
confirm page is the dry run (plan.py): what will be touched, the steps, the warnings, a required
reason. htmx polls the progress fragment every second while the revocation is open; every URL
also works without JavaScript (a reload shows the same progress).
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from governance.access.htmx import render_fragment_or_page, wants_fragment
from governance.access.lists.filters import InvalidFilter
from governance.access.roles import ADMIN, VIEWER, role_required
from governance.containment import plan, queries, reads, services, targets
from governance.containment.forms import GrantRevokeForm, ReasonForm
from governance.containment.models import Revocation, RevocationStep

PAGE_SIZE = 50
# The list's selects; `status` is the job's run (queued, running, done, failed), not how it ended.
FILTER_LABELS = {"status": "Run"}
# While a revocation runs its fragment is re-rendered every second: a bulk revocation has a step
# per grant (2,000 rows for 1,000 grants), so the live table shows what moves and the page lists
# every step once it has finished.
LIVE_STEP_ROWS = 60
LIVE_NEXT, LIVE_LATEST = 20, 10

# The confirm button of each action, as the entry point on the object's page names it.
BUTTONS = {
    Revocation.Action.GRANT: "Revoke grant",
    Revocation.Action.IDENTITY_CLIENT: "Revoke all for this client",
    Revocation.Action.IDENTITY: "Cut off everywhere",
    Revocation.Action.CLIENT: "Kill switch: deactivate and revoke",
    Revocation.Action.BULK: "Revoke matching grants",
    Revocation.Action.UNDO: "Undo",
}


@role_required(VIEWER)
def revocation_list(request):
    """Every revocation, newest first; filters by action, outcome and status; pages of 50."""
    params = request.GET
    context = {"error": None, "page": None, "params": params}
    status = 200
    try:
        rows = reads.revocation_rows(params)
        context["page"] = Paginator(rows, PAGE_SIZE).get_page(params.get("page"))
    except InvalidFilter as exc:
        context["error"], status = str(exc), 400
    context["filters"] = [
        (
            flt.param,
            FILTER_LABELS.get(flt.param, flt.label or flt.param.capitalize()),
            [(value, label) for value, label in flt.choices if value],  # "" is "any"
            params.get(flt.param, ""),
        )
        for flt in reads.REVOCATION_SPEC.filters
        if flt.kind == "choice"
    ]
    context["any_revocation"] = Revocation.objects.exists()
    return render_fragment_or_page(
        request,
        "governance/containment/revocation_list.html",
        "governance/containment/_revocation_table.html",
        context,
        status,
    )


@role_required(VIEWER)
def revocation_detail(request, pk: int):
    """One revocation: its steps with state, attempts, retries, answers and proof; the outcome,
    the residual window, orphaned tasks and "used after revocation" flags (live while open)."""
    revocation = get_object_or_404(
        Revocation.objects.select_related("actor", "grant", "identity", "client", "undoes"), pk=pk
    )
    return render_fragment_or_page(
        request,
        "governance/containment/revocation_detail.html",
        "governance/containment/_progress.html",
        _progress(revocation),
    )


def _progress(revocation: Revocation) -> dict:
    steps = list(queries.revocation_steps(revocation))
    # What kept it from "done", as the runner's outcome counts it: acting steps (not the
    # verifications) that failed or were skipped, each with its reason.
    failed = [
        s for s in steps if s.kind != s.Kind.VERIFY and s.state in (s.State.FAILED, s.State.SKIPPED)
    ]
    return {
        "revocation": revocation,
        "target": revocation,
        "steps": steps,
        "failed_steps": failed,
        "shortfall": shortfall(failed),
        "shown_steps": live_steps(steps) if revocation.is_open else steps,
        "state_counts": [
            (value, label, sum(s.state == value for s in steps))
            for value, label in RevocationStep.State.choices
        ],
        "verify_steps": sum(s.kind == s.Kind.VERIFY for s in steps),
        "steps_done": sum(s.state not in (s.State.PENDING, s.State.RUNNING) for s in steps),
        "orphaned": list(reads.orphaned_tasks(revocation)),
        "flags": list(reads.used_after_flags(revocation)),
        "undone_by": list(revocation.undone_by.order_by("-queued_at")),
        "undoable": queries.undoable(revocation),
    }


def live_steps(steps: list) -> list:
    """The rows a running revocation's table shows: all of them when few; else every running or
    failed step, the next pending ones and the latest finished ones, in position order."""
    if len(steps) <= LIVE_STEP_ROWS:
        return steps
    State = RevocationStep.State
    moving = {s.pk for s in steps if s.state in (State.RUNNING, State.FAILED)}
    moving |= {s.pk for s in [s for s in steps if s.state == State.PENDING][:LIVE_NEXT]}
    finished = [s for s in steps if s.finished_at and s.state != State.FAILED]
    finished.sort(key=lambda s: (s.finished_at, s.position))
    moving |= {s.pk for s in finished[-LIVE_LATEST:]}
    return [s for s in steps if s.pk in moving]


def shortfall(steps) -> list[dict]:
    """Failed or skipped steps grouped by (state, reason), in first-seen order."""
    groups: dict[tuple[str, str], dict] = {}
    for step in steps:
        key = (step.get_state_display().lower(), step.error)
        groups.setdefault(key, {"state": key[0], "error": key[1], "steps": []})["steps"].append(
            step
        )
    return list(groups.values())


@role_required(ADMIN)
@require_http_methods(["GET", "POST"])
def revocation_create(request, action: str):
    """The confirm page of one action (GET: the dry run and the reason field; POST: start it
    and go to its progress). The target comes from the query string, as the entry point built
    it: `?grant=`, `?identity=&client=`, `?identity=`, `?client=`, or the grant list's filter."""
    if action not in targets.STARTABLE:
        raise Http404("No such containment action.")
    try:
        target = targets.resolve(action, request.GET)
    except targets.TargetNotFound as exc:
        raise Http404(str(exc)) from exc
    except targets.BadTarget as exc:
        context = {"action": action, "bad_target": exc, "button": BUTTONS[action]}
        return render(request, "governance/containment/confirm.html", context, status=400)
    form_class = GrantRevokeForm if action == Revocation.Action.GRANT else ReasonForm
    form = form_class(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        tokens = form.token_list() if action == Revocation.Action.GRANT else None
        try:
            revocation = services.start_revocation(
                actor=request.user,
                action=action,
                reason=form.cleaned_data["reason"],
                tokens=tokens,
                request=request,
                **target.start_kwargs(),
            )
        except services.NothingToRevoke as exc:
            messages.error(request, str(exc))
        except ValueError as exc:
            form.add_service_error(exc)
        else:
            return _started(request, revocation)
    return _confirm_page(request, target, targets.plan_for(target), form)


def _confirm_page(request, target, the_plan, form):
    context = {
        "warnings": warning_groups(the_plan.warnings),
        "action": target.action,
        "target": target,
        "plan": the_plan,
        "form": form,
        "button": BUTTONS[target.action],
        "nothing": targets.touches_nothing(the_plan),
        "cap": plan.BULK_CAP,
        "cancel_url": _cancel_url(target),
    }
    status = 400 if form.errors else 200
    return render(request, "governance/containment/confirm.html", context, status=status)


# The plan says "<step>: skipped, <why>" once per skipped call: a kill switch over 50 grants at
# an issuer without a connection would be 50 identical lines, so the page groups them by reason.
SKIPPED = ": skipped, "


def warning_groups(warnings: list[str]) -> list[dict]:
    """The plan's warnings, skipped calls grouped by their reason (in first-seen order):
    [{"text": line}] for the others, [{"why": reason, "steps": [descriptions]}] for those."""
    groups: dict[str, list[str]] = {}
    lines: list[dict] = []
    for warning in warnings:
        step, sep, why = warning.partition(SKIPPED)
        if not sep:
            lines.append({"text": warning})
            continue
        if why not in groups:
            groups[why] = []
            lines.append({"why": why, "steps": groups[why]})
        groups[why].append(step)
    return lines


def _cancel_url(target) -> str:
    """Back to the page the Admin came from."""
    if target.action == Revocation.Action.BULK:
        return f"{reverse('inventory:grant_list')}?{urlencode(target.filter_params)}"
    for name in ("grant", "identity", "client"):
        obj = getattr(target, name)
        if obj is not None:
            return reverse(f"inventory:{name}_detail", args=[obj.pk])
    return reverse("containment:revocation_list")


def _started(request, revocation: Revocation):
    messages.success(
        request, f"{revocation} started: its steps run now, this page follows their progress."
    )
    url = reverse("containment:revocation_detail", args=[revocation.pk])
    if wants_fragment(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


@role_required(ADMIN)
@require_http_methods(["GET", "POST"])
def revocation_undo(request, pk: int):
    """Confirm and start the undo of a kill switch (reactivate what the IdPs allow)."""
    revocation = get_object_or_404(Revocation.objects.select_related("client"), pk=pk)
    if not queries.undoable(revocation):
        messages.error(request, _why_not_undoable(revocation))
        return redirect("containment:revocation_detail", pk=revocation.pk)
    form = ReasonForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            undo = services.undo_revocation(
                actor=request.user,
                revocation=revocation,
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except services.NothingToRevoke as exc:
            messages.error(request, str(exc))
        except ValueError as exc:
            form.add_service_error(exc)
        else:
            return _started(request, undo)
    the_plan = services.build_plan(action=Revocation.Action.UNDO, revocation=revocation)
    context = {
        "action": Revocation.Action.UNDO,
        "target": None,
        "undoes": revocation,
        "plan": the_plan,
        "form": form,
        "button": f"Undo {revocation}",
        "nothing": targets.touches_nothing(the_plan),
        "warnings": warning_groups(the_plan.warnings),
        "cancel_url": reverse("containment:revocation_detail", args=[revocation.pk]),
    }
    status = 400 if form.errors else 200
    return render(request, "governance/containment/confirm.html", context, status=status)


def _why_not_undoable(revocation: Revocation) -> str:
    if revocation.is_open:
        return f"{revocation} is still running: undo it once it has finished."
    if revocation.action == Revocation.Action.UNDO:
        return f"{revocation} is an undo: it cannot be undone in turn."
    if revocation.undone_by.exclude(outcome=Revocation.Outcome.FAILED).exists():
        return f"{revocation} was already undone."
    return (
        f"{revocation} cannot be undone: it deactivated and blocked nothing, and a revoked "
        "grant, token or session cannot be given back (the user signs in and consents again). "
        "A kill switch has an undo."
    )
