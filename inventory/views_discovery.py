"""Discovery pages: registries and their crawls, live crawl progress, a server's registry history.

Viewers see everything here; Admins add, edit, disable registries and start crawls (POST with
CSRF, each recorded as an admin action by the service). htmx requests get the fragment; the
same URLs work without JavaScript.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_http_methods, require_POST

from governance.access.htmx import render_fragment_or_page, wants_fragment
from governance.access.roles import ADMIN, VIEWER, role_required
from inventory import queries_discovery
from inventory.models import Crawl, Registry, Server
from inventory.services import registry as registry_service
from inventory.views import filtered_page, query_without_page

HISTORY_PAGE_SIZE = 50


class RegistryForm(forms.ModelForm):
    """Add or edit a registry; the base URL is stored without the API version suffix."""

    base_url = forms.URLField(
        max_length=500,
        assume_scheme="https",
        help_text="The registry's root, e.g. https://registry.example.com "
        "(the crawler adds /v0.1/servers).",
    )

    class Meta:
        model = Registry
        fields = ["name", "base_url", "kind", "enabled", "crawl_interval_minutes"]
        help_texts = {
            "crawl_interval_minutes": "How often beat crawls it (minimum "
            f"{registry_service.MIN_CRAWL_INTERVAL_MINUTES})."
        }

    def clean_base_url(self):
        return registry_service.clean_unused_base_url(
            self.cleaned_data["base_url"], registry=self.instance
        )

    def clean_crawl_interval_minutes(self):
        return registry_service.clean_crawl_interval(self.cleaned_data["crawl_interval_minutes"])


def _registries_with_last_crawl():
    last = Crawl.objects.filter(kind=Crawl.Kind.REGISTRY, registry=OuterRef("pk")).order_by(
        "-queued_at", "-id"
    )
    return Registry.objects.annotate(
        last_crawl_id=Subquery(last.values("pk")[:1]),
        last_crawl_status=Subquery(last.values("status")[:1]),
        last_crawl_at=Subquery(last.values("queued_at")[:1]),
        last_crawl_records=Subquery(last.values("records")[:1]),
        last_crawl_errors=Subquery(last.values("errors")[:1]),
    ).order_by("name")


@role_required(VIEWER)
def crawl_list(request):
    """Discovery: registries with their last crawl, and the crawl history with filters."""
    page, error, status = filtered_page(
        request.GET, queries_discovery.crawls, size=HISTORY_PAGE_SIZE
    )
    context = {
        "page": page,
        "error": error,
        "filters": request.GET,
        "query": query_without_page(request.GET),
        "now": timezone.now(),
        "kinds": Crawl.Kind.choices,
        "statuses": Crawl.Status.choices,
    }
    if wants_fragment(request) and request.htmx.target == "crawl-history":
        response = render(request, "inventory/_crawl_history.html", context, status=status)
    else:
        context["registries"] = _registries_with_last_crawl()
        response = render(request, "inventory/crawl_list.html", context, status=status)
    # One URL, two bodies (as in render_fragment_or_page); here the target picks the body too.
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


@role_required(VIEWER)
def crawl_detail(request, pk: int):
    """One crawl with live progress (htmx polls the fragment every 2 s while it is open)."""
    crawl = get_object_or_404(Crawl.objects.select_related("registry"), pk=pk)
    return render_fragment_or_page(
        request,
        "inventory/crawl_detail.html",
        "inventory/_crawl_progress.html",
        {"crawl": crawl, "now": timezone.now()},
    )


@role_required(ADMIN)
@require_POST
def crawl_start(request, pk: int):
    """Start a crawl of one registry now (or show the one already running)."""
    registry = get_object_or_404(Registry, pk=pk)
    crawl = registry_service.start_registry_crawl(
        registry, actor=request.user, request=request, full=request.POST.get("full") == "1"
    )
    return crawl_started(request, crawl)


def crawl_started(request, crawl: Crawl):
    """After starting a crawl: to its live progress page (an HX-Redirect for htmx)."""
    url = reverse("inventory:crawl_detail", args=[crawl.pk])
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


@role_required(ADMIN)
@require_http_methods(["GET", "POST"])
def registry_create(request):
    form = RegistryForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            registry_service.create_registry(
                actor=request.user, request=request, **form.cleaned_data
            )
        except ValidationError as exc:  # saved by someone else since the form checked
            form.add_error(None, exc)
        else:
            messages.success(request, f"Registry {form.cleaned_data['name']} added.")
            return redirect("inventory:crawl_list")
    return render(
        request,
        "inventory/registry_form.html",
        {"form": form, "registry": None},
        status=400 if form.errors else 200,
    )


@role_required(ADMIN)
@require_http_methods(["GET", "POST"])
def registry_edit(request, pk: int):
    registry = get_object_or_404(Registry, pk=pk)
    form = RegistryForm(request.POST or None, instance=registry)
    if request.method == "POST" and form.is_valid():
        try:
            registry_service.update_registry(
                registry, actor=request.user, request=request, **form.cleaned_data
            )
        except ValidationError as exc:  # saved by someone else since the form checked
            form.add_error(None, exc)
        else:
            messages.success(request, f"Registry {registry.name} saved.")
            return redirect("inventory:crawl_list")
    if request.method == "POST":  # the invalid form mutated the instance; show stored values
        registry.refresh_from_db()
    return render(
        request,
        "inventory/registry_form.html",
        {"form": form, "registry": registry},
        status=400 if form.errors else 200,
    )


@role_required(ADMIN)
@require_POST
def registry_toggle(request, pk: int):
    """Enable or disable crawling of a registry."""
    registry = get_object_or_404(Registry, pk=pk)
    enabled = not registry.enabled
    registry_service.update_registry(registry, actor=request.user, request=request, enabled=enabled)
    messages.success(
        request, f"Crawling of {registry.name} {'enabled' if enabled else 'disabled'}."
    )
    return redirect("inventory:crawl_list")


@role_required(VIEWER)
def server_registry_history(request, pk: int):
    """Fragment: a server's versions per registry, their problems, and its status history."""
    server = get_object_or_404(Server, pk=pk)
    return render(
        request,
        "inventory/_server_registry_history.html",
        queries_discovery.server_registry_history(server),
    )
