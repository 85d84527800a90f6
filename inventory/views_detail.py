"""Inventory detail pages (an object and what it is related to) and the admins' review control."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from governance.access.htmx import wants_fragment
from governance.access.roles import ADMIN, VIEWER, role_required
from inventory import queries, queries_agents
from inventory.models import Client, Grant, Identity, Server, Task
from inventory.services.entities import set_review_status

# Detail pages show the first rows of each relationship and link to the filtered list for all.
RELATED_ROWS = 25


@role_required(VIEWER)
def identity_detail(request, pk: int):
    """An identity: the agents acting for it (its grants: where, with what, since when, last
    used, from which IdP), the agents it answers for, the clients it uses and its tasks."""
    identity = get_object_or_404(
        Identity.objects.select_related("owner", "manager", "sponsor"), pk=pk
    )
    grants = queries.agents_acting_for(identity)
    agents, grants_read = queries_agents.agents_for(identity)
    return render(
        request,
        "inventory/identity_detail.html",
        {
            "identity": identity,
            "answered_for": queries_agents.answered_for_with_agents(identity, limit=RELATED_ROWS),
            "owned_clients": identity.owned_clients.order_by("name", "client_id")[:RELATED_ROWS],
            "agents": agents,
            "grants_read": grants_read,
            "grant_count": grants.count(),
            "active_grant_count": grants.active().count(),
            "clients": queries.clients_of_identity(identity)[:RELATED_ROWS],
            "tasks": identity.tasks.select_related("server", "client").with_open_flag()[
                :RELATED_ROWS
            ],
            "task_count": identity.tasks.count(),
        },
    )


@role_required(VIEWER)
def client_detail(request, pk: int):
    """A client, its grants, the servers it holds grants on, its tasks and flags."""
    client = get_object_or_404(Client.objects.select_related("owner"), pk=pk)
    grants = client.grants.select_related("subject", "server").order_by("-issued_at", "-id")
    return render(
        request,
        "inventory/client_detail.html",
        {
            "client": client,
            "obj": client,
            "review_url": "inventory:client_review",
            "grants": grants[:RELATED_ROWS],
            "grant_count": grants.count(),
            "subjects": queries.subjects_of_client(client)[:RELATED_ROWS],
            "servers": queries.servers_of_client(client),
            "tasks": client.tasks.select_related("server", "identity").with_open_flag()[
                :RELATED_ROWS
            ],
            "task_count": client.tasks.count(),
            "flags": queries.flags_for(client)[:RELATED_ROWS],
        },
    )


@role_required(VIEWER)
def server_detail(request, pk: int):
    """A server, its versions, remotes, tools, grants, tasks and flags."""
    server = get_object_or_404(Server.objects.select_related("owner"), pk=pk)
    grants = server.grants.select_related("client", "subject").order_by("-issued_at", "-id")
    return render(
        request,
        "inventory/server_detail.html",
        {
            "server": server,
            "obj": server,
            "review_url": "inventory:server_review",
            "remotes": server.remotes.all(),
            "tools": server.tools.all(),
            "grants": grants[:RELATED_ROWS],
            "grant_count": grants.count(),
            "tasks": server.tasks.select_related("client", "identity").with_open_flag()[
                :RELATED_ROWS
            ],
            "task_count": server.tasks.count(),
            "flags": queries.flags_for(server)[:RELATED_ROWS],
        },
    )


@role_required(VIEWER)
def grant_detail(request, pk: int):
    """A grant and the tasks run under it."""
    grant = get_object_or_404(Grant.objects.select_related("client", "subject", "server"), pk=pk)
    return render(
        request,
        "inventory/grant_detail.html",
        {
            "grant": grant,
            "tasks": grant.tasks.select_related("server", "client", "identity").with_open_flag()[
                :RELATED_ROWS
            ],
            "task_count": grant.tasks.count(),
            "flags": queries.flags_for(grant)[:RELATED_ROWS],
        },
    )


@role_required(VIEWER)
def task_detail(request, pk: int):
    """A task and its status history, illegal transitions marked."""
    task = get_object_or_404(
        Task.objects.select_related("server", "client", "identity", "grant").with_open_flag(), pk=pk
    )
    return render(
        request,
        "inventory/task_detail.html",
        {
            "task": task,
            "history": task.status_history.all(),
            "flags": queries.flags_for(task)[:RELATED_ROWS],
        },
    )


def _still_active(obj) -> dict:
    """What a block leaves running: it is a label, the kill switch (containment) revokes."""
    return {
        "active_grants": obj.grants.active().count(),
        "running_tasks": obj.tasks.running().count(),
    }


def _blocked_message(obj, left: dict) -> str:
    grants, tasks = left["active_grants"], left["running_tasks"]
    return (
        f"{obj} is now blocked. Nothing was revoked: {grants} active "
        f"grant{'s' if grants != 1 else ''} and {tasks} running task{'s' if tasks != 1 else ''} "
        "stay active until the kill switch revokes them."
    )


def _review(request, model, pk: int, detail_url: str, review_url: str):
    obj = get_object_or_404(model, pk=pk)
    status = request.POST.get("status", "")
    # Blocking only labels the object: the admin confirms knowing what stays active.
    if (
        status == "blocked"
        and obj.review_status != "blocked"
        and request.POST.get("confirm") != "1"
    ):
        template = (
            "inventory/_review_confirm.html"
            if wants_fragment(request)
            else "inventory/review_confirm.html"
        )
        return render(
            request,
            template,
            {"obj": obj, "review_url": review_url, "detail_url": detail_url, **_still_active(obj)},
        )
    try:
        set_review_status(obj, status=status, actor=request.user, request=request)
    except ValueError as exc:
        return HttpResponseBadRequest(str(exc))
    if status == "blocked":
        message = _blocked_message(obj, _still_active(obj))
    else:
        message = f"{obj} is now {obj.get_review_status_display().lower()}."
    if wants_fragment(request):
        return render(
            request,
            "inventory/_review_status.html",
            {"obj": obj, "review_url": review_url, "notice": message},
        )
    messages.success(request, message)
    return redirect(detail_url, pk=obj.pk)


@require_POST
@role_required(ADMIN)
def client_review(request, pk: int):
    """Admins approve or block a client (htmx gets the updated control)."""
    return _review(request, Client, pk, "inventory:client_detail", "inventory:client_review")


@require_POST
@role_required(ADMIN)
def server_review(request, pk: int):
    """Admins approve or block a server (htmx gets the updated control)."""
    return _review(request, Server, pk, "inventory:server_detail", "inventory:server_review")
