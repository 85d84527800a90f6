"""Findings in the console: the list (filters in the query string, so a view is a bookmark;
counts by severity and kind as facet links; a bulk action bar for Admins), one finding's page
(evidence linked, history, actions, "Revoke…" into containment where the object is a grant,
client or identity) and the actions' POSTs.

Viewers and Auditors read; Admins triage (POST, CSRF). Every form works without JavaScript; htmx
swaps the table on filter, sort and page links (render_fragment_or_page).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from governance.access.htmx import render_fragment_or_page
from governance.access.lists.filters import InvalidFilter
from governance.access.roles import ADMIN, VIEWER, has_role, role_required
from governance.findings import queries, services
from governance.findings.forms import ACTION_LABELS, BulkTriageForm, TriageForm
from inventory.finding_rules import RULES_BY_KIND
from inventory.models import Finding

PAGE_SIZE = 50
# Where the "Revoke…" link of a finding about one of these objects leads (containment's confirm
# pages take the target in the query string).
REVOKE_ACTIONS = {
    "inventory.grant": ("grant", "grant", "Revoke this grant…"),
    "inventory.client": ("client", "client", "Revoke: kill switch for this client…"),
    "inventory.identity": ("identity", "identity", "Revoke: cut this identity off everywhere…"),
}


@role_required(VIEWER)
def finding_list(request):
    """Findings needing attention by default, most severe first; 400 naming a bad filter."""
    context, status = _list_context(request, request.GET)
    return render_fragment_or_page(
        request, "findings/finding_list.html", "findings/_finding_table.html", context, status
    )


def _list_context(request, params) -> tuple[dict, int]:
    context = {
        "error": None,
        "page": None,
        "params": params,
        "q": params.get("q", ""),
        "statuses": queries.STATUS_CHOICES,
        "severities": Finding.Severity.choices,
        "object_types": queries.OBJECT_TYPES,
        "assignees": list(services.assignable_users()),
        "action_labels": ACTION_LABELS,
        "any_finding": Finding.objects.exists,  # read by the template only when the list is empty
    }
    status = 200
    try:
        context["page"] = Paginator(queries.findings(params), PAGE_SIZE).get_page(
            params.get("page")
        )
        context["facets"] = queries.facet_counts(params)
    except InvalidFilter as exc:
        context["error"], status = str(exc), 400
    sort = params.get("sort") or queries.FINDING_SPEC.default_sort
    context["sort"] = sort if sort.lstrip("-") in queries.FINDING_SPEC.sorts else "-severity"
    context["status"] = params.get("status") or queries.ATTENTION
    # Filters beyond the status: an empty list then says "reset them", not "nothing to do".
    context["narrowed"] = any(
        params.get(f.param) for f in queries.FINDING_SPEC.filters if f.param != "status"
    ) or bool(params.get("q"))
    return context, status


@role_required(VIEWER)
def finding_detail(request, pk: int):
    """One finding: summary, object, evidence, details, history, and the actions an Admin has."""
    finding = get_object_or_404(Finding.objects.select_related("assignee"), pk=pk)
    return _detail_page(request, finding, TriageForm(), 200)


def _detail_page(request, finding: Finding, form, status: int, failed_action: str = ""):
    revoke = REVOKE_ACTIONS.get(finding.object_type)
    revoke_url = ""
    if revoke and str(finding.object_id).isdigit() and finding.status != Finding.Status.RESOLVED:
        url = reverse("containment:revocation_create", args=[revoke[0]])
        revoke_url = f"{url}?{revoke[1]}={int(finding.object_id)}"
    details = finding.details if isinstance(finding.details, dict) else {}
    context = {
        "finding": finding,
        "rule": RULES_BY_KIND.get(finding.kind),
        "evidence": queries.evidence(finding),
        "details": [(k, v, isinstance(v, (dict, list))) for k, v in sorted(details.items())],
        "suppression_ended": finding.status == Finding.Status.SUPPRESSED
        and finding.suppressed_until <= timezone.now(),
        "history": list(queries.history(finding)),
        "form": form,
        "failed_action": failed_action,
        "applies": {a: finding.status in s for a, s in services.APPLIES_TO.items()},
        "assignees": list(services.assignable_users()),
        "revoke_url": revoke_url,
        "revoke_label": revoke[2] if revoke else "",
        "can_triage": has_role(request.user, ADMIN),
    }
    return render(request, "findings/finding_detail.html", context, status=status)


@role_required(ADMIN)
@require_POST
def finding_update(request, pk: int, action: str):
    """One action on one finding (acknowledge, resolve, suppress, reopen, assign); back to its
    page with a message, or the page again (400) with the error under the field it names."""
    if action not in services.APPLIES_TO:
        raise Http404("No such triage action.")
    finding = get_object_or_404(Finding, pk=pk)
    form = TriageForm({**request.POST.dict(), "action": action})
    if form.is_valid():
        act = getattr(services, action)
        try:
            act(
                finding,
                user=request.user,
                note=form.cleaned_data["note"],
                request=request,
                **form.options(),
            )
        except services.TriageError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, f"Finding #{finding.pk} {services.PAST[action]}.")
            return redirect("findings:finding_detail", pk=finding.pk)
    finding.refresh_from_db()
    return _detail_page(request, finding, form, 400, failed_action=action)


@role_required(ADMIN)
@require_POST
def finding_bulk(request):
    """One action on the ticked findings of the list, in one transaction; back to the same view
    of the list with how many changed and how many were skipped."""
    form = BulkTriageForm(request.POST)
    back = _back_url(request.POST.get("back", ""))
    if form.is_valid():
        try:
            result = services.bulk(
                form.cleaned_data["action"],
                form.cleaned_data["ids"],
                user=request.user,
                note=form.cleaned_data["note"],
                request=request,
                **form.options(),
            )
        except services.TriageError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, result.message())
            return redirect(back)
    params = _query_of(back)
    context, _ = _list_context(request, params)
    context["bulk_form"] = form
    return render(request, "findings/finding_list.html", context, status=400)


def _back_url(raw: str) -> str:
    """The list view the bulk form came from (its query string), never another site."""
    base = reverse("findings:finding_list")
    if raw.startswith("?"):
        raw = base + raw
    if raw.startswith(base) and url_has_allowed_host_and_scheme(raw, allowed_hosts=None):
        return raw
    return base


def _query_of(url: str) -> QueryDict:
    return QueryDict(url.partition("?")[2])
