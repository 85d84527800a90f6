"""The browser tests' data: the demo deployment at a small scale (volume and variety), plus a
few known rows the tests click through, all made through the write services."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from governance.access.roles import ADMIN, ROLE_ORDER, VIEWER
from governance.demo import seed_demo
from tests.ingest_helpers import iso, make_event
from tests.ui_factories import OKTA, client, grant, identity, server, task

PASSWORD = "correct-horse-battery"
DEMO_SCALE = 0.1  # 42 identities, 300 grants, 30 tasks, 300 audit events
EVENTS = 120  # Alice's tool calls in the last 24 h: three explorer pages of 50
LAST_HOUR = 12  # of them in the minutes before seeding, the others an hour and more before


def minutes_ago(n: int) -> int:
    """Event n's age at seeding: the last hour's a minute apart (the browser tests may start
    minutes after seeding and still find them all in "1h"), then one every 5 minutes."""
    return n + 1 if n < LAST_HOUR else 5 * n + 1


SCOPE = "tickets:approve"  # held by Alice's agent alone


def seed() -> dict:
    """Commit the data; return what the tests need to know about it."""
    seed_demo(scale=DEMO_SCALE)
    admin = User.objects.create_user("ada-admin", password=PASSWORD)
    admin.groups.add(Group.objects.get_or_create(name=ADMIN)[0])
    viewer = User.objects.create_user("vera-viewer", password=PASSWORD)
    viewer.groups.add(Group.objects.get_or_create(name=VIEWER)[0])
    now = timezone.now()
    alice = identity(
        "00u-browser-alice", display_name="Alice Abbott", email="alice@acme.example", at=now
    )
    agent = client("https://triage.example/client.json", name="Triage Agent", at=now)
    desk = server("io.github.acme/helpdesk", title="Helpdesk", at=now)
    alices = grant(
        "g-browser-alice",
        client=agent,
        subject=alice,
        server=desk,
        scopes=["tickets:read", SCOPE],
        status="active",
        issued_at=now - timedelta(days=2),
        expires_at=now + timedelta(days=30),
        at=now,
    )
    kw = {"server": desk, "client": agent, "identity": alice, "grant": alices}
    # Two running, and two created two hours ago with a one-minute TTL and never reported done:
    # past their TTL. More than any demo identity has, so Alice leads the overview's starters.
    running, _ = (task(f"browser-run-{n}", ttl_ms=30 * 86_400_000, at=now, **kw) for n in (1, 2))
    stale, _ = (
        task(f"browser-stale-{n}", ttl_ms=60_000, at=now - timedelta(hours=2), **kw) for n in (1, 2)
    )
    source, _ = create_source(name="browser-gateway")
    actor = {"id": alice.subject, "type": "human", "idp": OKTA, "email": alice.email}
    ingest_events(
        source=source,
        events=[
            make_event(
                time=iso(now - timedelta(minutes=minutes_ago(n))),
                actor=actor,
                client={"id": agent.client_id, "name": agent.name},
                server={"name": desk.name},
                tool="close_ticket" if n % 2 else "search_tickets",
            )
            for n in range(EVENTS)
        ],
    )
    return {
        "admin": admin.username,
        "viewer": viewer.username,
        "alice": {"pk": alice.pk, "name": str(alice), "subject": alice.subject},
        "agent": {"pk": agent.pk, "name": str(agent)},
        "server": {"pk": desk.pk, "name": desk.name},
        "grant": {"pk": alices.pk, "external_id": alices.external_id},
        "running": {"pk": running.pk, "task_id": running.task_id},
        "stale": {"pk": stale.pk, "task_id": stale.task_id},
    }


def empty_database() -> None:
    """Back to an empty test database for the modules after this one (the raw-SQL audit tables
    too, which Django's flush skips)."""
    from audit.source_auth import forget_rate_windows

    call_command("flush", interactive=False, verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_event, audit_event_dedup, audit_rate_window")
    forget_rate_windows()
    # flush also empties what migrations wrote (the role groups of governance 0002): put that
    # back, as every later test expects a freshly migrated database.
    for name in ROLE_ORDER:
        Group.objects.get_or_create(name=name)
