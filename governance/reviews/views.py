"""Governance -> Reviews: the campaigns list, a new campaign (Admins), a campaign's page (progress,
per-reviewer progress, its items, the close button), the close confirmation, "My reviews" (the
queue with per-row and bulk decisions) and a closed campaign's frozen record.

Viewers and up read; a reviewer decides their own items (an Admin any); only Admins open and
close campaigns. Every form works without JavaScript; htmx swaps a decided row in place and
polls a closing campaign's progress.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from governance.access.htmx import render_fragment_or_page, wants_fragment
from governance.access.lists.filters import InvalidFilter
from governance.access.roles import ADMIN, AUDITOR, VIEWER, has_role, role_required
from governance.reviews import queries, record, services
from governance.reviews.forms import BulkDecisionForm, CampaignForm, DecisionForm
from governance.reviews.models import Campaign, ReviewItem
from governance.reviews.scope import describe

PAGE_SIZE = 50
SORTS = (
    ("id", "Campaign order"),
    ("-unused_days", "Longest unused first"),
    ("identity", "Identity"),
    ("client", "Client"),
    ("recommendation", "Recommendation"),
)


@role_required(VIEWER)
def campaign_list(request):
    """Every campaign, newest first, with its progress; `?status=` filters."""
    rows = queries.campaign_rows(request.GET)
    return render(
        request,
        "governance/reviews/campaign_list.html",
        {
            "page": Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page")),
            "any_campaign": Campaign.objects.exists(),
            "statuses": Campaign.Status.choices,
            "status": request.GET.get("status", ""),
            "can_admin": has_role(request.user, ADMIN),
            "my_pending": queries.pending_count(request.user),
        },
    )


@role_required(ADMIN)
@require_http_methods(["GET", "POST"])
def campaign_create(request):
    """The new-campaign form; a service error shows on the field it names."""
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            campaign = services.open_campaign(
                actor=request.user, request=request, **form.service_kwargs()
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, f"Campaign opened with {campaign.items.count()} items.")
            return redirect("reviews:campaign_detail", pk=campaign.pk)
    status = 400 if request.method == "POST" else 200
    fieldsets = [
        (legend, [form[name] for name in names]) for legend, names in CampaignForm.FIELDSETS
    ]
    return render(
        request,
        "governance/reviews/campaign_form.html",
        {"form": form, "fieldsets": fieldsets},
        status=status,
    )


@role_required(VIEWER)
def campaign_detail(request, pk: int):
    """Progress, per-reviewer progress and the items (filtered like the queue)."""
    campaign = get_object_or_404(Campaign.objects.select_related("created_by"), pk=pk)
    context = {"campaign": campaign, "error": None, "page": None, "params": request.GET}
    status = 200
    try:
        rows = queries.campaign_items(campaign, request.GET)
        context["page"] = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page"))
    except InvalidFilter as exc:
        context["error"], status = str(exc), 400
    context |= {
        "progress": queries.campaign_progress(campaign),
        "scope_text": describe(campaign.scope),
        "can_admin": has_role(request.user, ADMIN),
        "reviewers": campaign.reviewers.order_by("username"),
        "decision_choices": queries.DECISION_FILTER,
    }
    return render_fragment_or_page(
        request,
        "governance/reviews/campaign_detail.html",
        "governance/reviews/_campaign_progress.html",
        context,
        status,
    )


@role_required(ADMIN)
@require_http_methods(["GET", "POST"])
def campaign_close(request, pk: int):
    """GET: what closing will do; POST: close (revocations start, the record freezes later)."""
    campaign = get_object_or_404(Campaign, pk=pk)
    if request.method == "POST":
        try:
            services.close_campaign(campaign=campaign, actor=request.user, request=request)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "Closing: the revoke decisions are being carried out.")
        return redirect("reviews:campaign_detail", pk=campaign.pk)
    return render(
        request,
        "governance/reviews/campaign_close.html",
        {"campaign": campaign, "progress": queries.campaign_progress(campaign)},
    )


@role_required(VIEWER)
def campaign_record(request, pk: int):
    """A closed campaign's frozen record, item by item, with its digest."""
    campaign = get_object_or_404(Campaign, pk=pk)
    return render(
        request,
        "governance/reviews/campaign_record.html",
        {
            "campaign": campaign,
            "record": campaign.record,
            "verified": record.verify(campaign) if campaign.record else None,
        },
    )


@role_required(AUDITOR)
def campaign_export(request, pk: int):
    """The frozen record as the JSON its SHA-256 is over (canonical form)."""
    campaign = get_object_or_404(Campaign, pk=pk, status=Campaign.Status.CLOSED)
    response = HttpResponse(record.canonical(campaign.record), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="access-review-{campaign.pk}.json"'
    response["X-Record-SHA256"] = campaign.record_sha256
    return response


@role_required(VIEWER)
def review_item_list(request):
    """My reviews: the items waiting for me (an Admin may pass `?reviewer=<id>`), filtered."""
    params = request.GET.copy()
    reviewer = request.user
    if has_role(request.user, ADMIN) and params.get("reviewer"):
        reviewer = None  # the reviewer filter applies
    else:
        params.pop("reviewer", None)
    context = {"error": None, "page": None, "params": params, "bulk_form": BulkDecisionForm()}
    status = 200
    try:
        rows = queries.review_queue(params, reviewer=reviewer)
        context["page"] = Paginator(rows, PAGE_SIZE).get_page(params.get("page"))
        context["matched"] = context["page"].paginator.count
    except InvalidFilter as exc:
        context["error"], status = str(exc), 400
    context |= {
        "any_item": ReviewItem.objects.filter(reviewer=request.user).exists(),
        "pending": queries.pending_count(request.user),
        "campaigns": Campaign.objects.filter(items__reviewer=request.user).distinct(),
        "filter_query": params.urlencode(),
        "decision_choices": queries.DECISION_FILTER,
        "sorts": SORTS,
    }
    return render_fragment_or_page(
        request,
        "governance/reviews/review_item_list.html",
        "governance/reviews/_queue.html",
        context,
        status,
    )


@role_required(VIEWER)
@require_POST
def review_item_decide(request, pk: int):
    """One decision: the updated row to htmx, a redirect back to the queue otherwise."""
    item = get_object_or_404(ReviewItem.objects.select_related("campaign"), pk=pk)
    if not services.may_decide(request.user, item):
        raise PermissionDenied("Only the item's reviewer or an Admin decides it.")
    form = DecisionForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            services.decide(
                item=item,
                by=request.user,
                decision=form.cleaned_data["decision"],
                justification=form.cleaned_data["justification"],
                keep_scopes=form.keep_scope_list(),
                request=request,
            )
        except ValidationError as exc:
            error = _named(exc)
    else:
        error = "; ".join(
            f"{FIELD_LABELS.get(k, k)}: {' '.join(v)}" for k, v in form.errors.items()
        )
    if wants_fragment(request):
        # The row comes back with the error under it, as a 200: the row is the answer either
        # way (the queue page's htmx config would swap a 400 too; nothing there tells them apart).
        item.refresh_from_db()
        return render(
            request,
            "governance/reviews/_item_row.html",
            {
                "item": item,
                "row_error": error,
                "next_url": _next(request),
                # A refused decision stays in the row's controls, to be completed.
                "posted": request.POST if error else None,
            },
        )
    (messages.error if error else messages.success)(request, error or "Decision saved.")
    return redirect(_next(request))


@role_required(VIEWER)
@require_POST
def review_item_bulk_decide(request):
    """One decision for every item the queue's filter (in the form) matches that I may decide."""
    form = BulkDecisionForm(request.POST)
    query = request.POST.get("filter_query", "")
    back = f"{reverse('reviews:review_item_list')}?{query}" if query else None
    if not form.is_valid():
        messages.error(request, "Choose keep or revoke.")
        return redirect(back or "reviews:review_item_list")
    params = QueryDict(query)
    reviewer = None if has_role(request.user, ADMIN) and params.get("reviewer") else request.user
    try:
        items = queries.review_queue(params, reviewer=reviewer)
        decided = services.bulk_decide(
            items=items,
            by=request.user,
            decision=form.cleaned_data["decision"],
            justification=form.cleaned_data["justification"],
            request=request,
        )
    except (ValidationError, InvalidFilter) as exc:
        messages.error(request, _named(exc) if isinstance(exc, ValidationError) else str(exc))
    else:
        messages.success(request, f"{decided} item{'s' if decided != 1 else ''} decided.")
    return redirect(back or "reviews:review_item_list")


def _next(request) -> str:
    """Where a no-JS decision returns: the queue it came from (this site only)."""
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return reverse("reviews:review_item_list")


# A refused decision names the control it is about by the label a reviewer sees, not its key.
FIELD_LABELS = {
    "decision": "Decision",
    "justification": "Justification",
    "keep_scopes": "Scopes to keep",
    "campaign": "Campaign",
}


def _named(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(
            f"{FIELD_LABELS.get(k, k)}: {' '.join(v)}" for k, v in exc.message_dict.items()
        )
    return " ".join(exc.messages)
