"""Tasks outlive grants (issue 13 §4): a revocation's task steps on real rows. Tasks come from
real ingested events, so the planner finds each task's event source from its status history."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from audit.services.ingest import ingest_events
from audit.services.sources import create_source, set_cancel_hook
from governance.containment import orphans
from governance.containment.models import Revocation, RevocationStep
from inventory.models import Client, Identity, Task
from tests.ingest_helpers import iso, make_event

pytestmark = pytest.mark.django_db
IDP = "https://idp.example.com"
AGENT = "https://agent.example.com/client.json"
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


def task_event(task_id: str, status: str, *, subject: str, client: str = AGENT, seconds: int = 0):
    return make_event(
        time=iso(T0 + timedelta(seconds=seconds)),
        actor={"id": subject, "type": "human", "idp": IDP},
        client={"id": client, "name": "Agent"},
        session_id=f"sess-{task_id}",
        task={"id": task_id, "status": status},
    )


def task(task_id: str) -> Task:
    return Task.objects.get(task_id=task_id)


def revocation(client: Client) -> Revocation:
    return Revocation.objects.create(
        action=Revocation.Action.CLIENT,
        target_key=f"client:{client.pk}",
        reason="agent compromised",
        client=client,
        queued_at=datetime.now(UTC),
    )


def as_rows(rev: Revocation, steps) -> list[RevocationStep]:
    return [
        RevocationStep.objects.create(
            revocation=rev,
            position=position,
            kind=step.kind,
            operation=step.operation,
            description=step.description,
            target=step.target,
        )
        for position, step in enumerate(steps, start=1)
    ]


@pytest.fixture
def tasks():
    """t1, t2 (alice) from a gateway with a cancel hook; t3 (bob) from one without; t4 finished;
    t5 on another client. Bob's manager is Carol."""
    hooked, plain = create_source(name="gw-hooked")[0], create_source(name="gw-plain")[0]
    set_cancel_hook(source=hooked, url="https://gw.example.com/hooks/cancel")
    ingest_events(
        source=hooked,
        events=[
            task_event("t1", "working", subject="alice"),
            task_event("t2", "working", subject="alice", seconds=1),
            task_event("t2", "input_required", subject="alice", seconds=2),
            task_event("t4", "working", subject="alice", seconds=3),
            task_event("t4", "completed", subject="alice", seconds=4),
            task_event("t5", "working", subject="alice", client="other-agent", seconds=5),
        ],
    )
    ingest_events(source=plain, events=[task_event("t3", "working", subject="bob", seconds=6)])
    carol = Identity.objects.create(
        issuer=IDP,
        subject="carol",
        display_name="Carol",
        email="carol@example.com",
        first_seen=T0,
        last_seen=T0,
    )
    Identity.objects.filter(subject="bob").update(manager=carol)
    return {"hooked": hooked, "plain": plain, "client": Client.objects.get(client_id=AGENT)}


def test_a_client_revocation_plans_marking_then_the_cancel_hook_then_the_owners(tasks):
    steps = orphans.task_steps(client_ids=[tasks["client"].pk])

    assert [s.operation for s in steps] == ["mark_orphaned", "cancel_tasks", "needs_owner_action"]
    assert {s.kind for s in steps} == {"task"}
    mark, cancel, owner = steps
    running = sorted(task(t).pk for t in ("t1", "t2", "t3"))
    assert mark.target == {"task_ids": running, "needs_owner": [task("t3").pk]}
    assert cancel.target["source_id"] == tasks["hooked"].pk
    assert cancel.target["tasks"] == [
        {"task_id": "t1", "session_id": "sess-t1", "server": "io.github.acme/reports"},
        {"task_id": "t2", "session_id": "sess-t2", "server": "io.github.acme/reports"},
    ]
    assert owner.target["task_ids"] == [task("t3").pk]
    assert "Carol <carol@example.com>" in owner.description and "manager" in owner.description


def test_nothing_running_under_the_revoked_objects_plans_no_task_step(tasks):
    assert orphans.task_steps(grant_ids=[12345], client_ids=[], identity_ids=[]) == []


def test_marking_orphans_the_running_tasks_once_and_leaves_the_others(tasks):
    first = revocation(tasks["client"])
    steps = as_rows(first, orphans.task_steps(client_ids=[tasks["client"].pk]))
    assert orphans.run_task_step(steps[0], first) == {"marked": 3}
    owner = next(s for s in steps if s.operation == "needs_owner_action")
    assert orphans.run_task_step(owner, first)["tasks"] == 1

    for task_id in ("t1", "t2", "t3"):
        t = task(task_id)
        assert t.orphaned_at is not None and t.orphaned_by_revocation == first.pk
    assert task("t3").owner_action == "needs_owner_action"
    assert task("t1").owner_action == ""  # the cancel hook step decides
    assert task("t4").orphaned_at is None and task("t5").orphaned_at is None

    second = Revocation.objects.create(
        action=Revocation.Action.IDENTITY, target_key="identity:x", reason="again", queued_at=T0
    )
    again = orphans.task_steps(identity_ids=[task("t1").identity_id])
    orphans.run_task_step(as_rows(second, again)[0], second)
    assert task("t1").orphaned_by_revocation == first.pk  # the first revocation keeps it


def test_the_task_pages_say_orphaned_by_which_revocation_and_whom_to_contact(tasks, viewer_client):
    rev = revocation(tasks["client"])
    for step in as_rows(rev, orphans.task_steps(client_ids=[tasks["client"].pk])):
        if step.operation != "cancel_tasks":
            orphans.run_task_step(step, rev)

    listing = viewer_client.get("/inventory/tasks/?orphaned=true")
    assert listing.status_code == 200
    body = listing.content.decode()
    # The rows' task ids (a bare "t4" could occur in the page's random CSRF token).
    listed = re.findall(r'class="mono" title="(t\d)">', body)
    assert sorted(listed) == ["t1", "t2", "t3"]
    assert f"revocation #{rev.pk}" in body
    assert "needs owner action: contact Carol &lt;carol@example.com&gt;" in body

    page = viewer_client.get(f"/inventory/tasks/{task('t3').pk}/").content.decode()
    assert f"revocation #{rev.pk}" in page and "contact Carol" in page
    api = viewer_client.get("/api/v1/tasks/?orphaned=true").json()
    assert sorted(row["task_id"] for row in api["results"]) == ["t1", "t2", "t3"]
    assert {row["orphaned_by_revocation"] for row in api["results"]} == {rev.pk}


def test_the_clients_owner_is_the_contact_before_the_identitys_manager(tasks):
    owner = Identity.objects.create(
        issuer=IDP,
        subject="olga",
        display_name="Olga",
        email="olga@example.com",
        first_seen=T0,
        last_seen=T0,
    )
    Client.objects.filter(pk=tasks["client"].pk).update(owner=owner)
    steps = orphans.task_steps(client_ids=[tasks["client"].pk])
    (owner_step,) = [s for s in steps if s.operation == "needs_owner_action"]
    assert owner_step.target["contact"] == "Olga <olga@example.com> (owner of Agent)"
    assert owner_step.target["owner"] == f"identity:{owner.pk}"
