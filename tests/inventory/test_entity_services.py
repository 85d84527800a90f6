"""Entity write services: natural keys, sightings, task transitions, review decisions."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from governance.access.models import AdminAction
from inventory.models import (
    Client,
    Flag,
    Grant,
    Identity,
    Server,
    ServerRemote,
    ServerVersion,
    Task,
    TaskStatusChange,
    Tool,
)
from inventory.services import entities
from tests.ui_factories import OKTA, T0, client, grant, identity, server, task

pytestmark = pytest.mark.django_db


def _duplicates_are_refused(make):
    make()
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


def test_the_database_refuses_a_second_identity_with_the_same_issuer_and_subject():
    _duplicates_are_refused(
        lambda: Identity.objects.create(issuer=OKTA, subject="00u1", first_seen=T0, last_seen=T0)
    )


def test_the_database_refuses_duplicate_clients_servers_grants_and_tasks():
    _duplicates_are_refused(
        lambda: Client.objects.create(client_id="c", first_seen=T0, last_seen=T0)
    )
    _duplicates_are_refused(
        lambda: Server.objects.create(name="io.x/y", first_seen=T0, last_seen=T0)
    )
    c = Client.objects.get(client_id="c")
    _duplicates_are_refused(
        lambda: Grant.objects.create(
            issuer=OKTA, external_id="g", client=c, first_seen=T0, last_seen=T0
        )
    )
    s = Server.objects.get(name="io.x/y")
    _duplicates_are_refused(
        lambda: Task.objects.create(task_id="t", server=s, first_seen=T0, last_seen=T0)
    )
    # A task seen without a server is still unique by its id (NULLS NOT DISTINCT).
    _duplicates_are_refused(
        lambda: Task.objects.create(task_id="t", server=None, first_seen=T0, last_seen=T0)
    )


def test_the_database_refuses_duplicate_tools_remotes_and_versions_of_a_server():
    s = server()
    _duplicates_are_refused(
        lambda: Tool.objects.create(server=s, name="x", first_seen=T0, last_seen=T0)
    )
    _duplicates_are_refused(
        lambda: ServerRemote.objects.create(
            server=s, url="https://a.example/mcp", first_seen=T0, last_seen=T0
        )
    )
    _duplicates_are_refused(
        lambda: ServerVersion.objects.create(
            server=s, registry=None, version="1.0.0", first_seen=T0, last_seen=T0
        )
    )


def test_upserting_the_same_identity_twice_keeps_one_row_and_merges_sightings():
    earlier, later = T0 - timedelta(days=5), T0 + timedelta(days=5)
    first = identity("00u-x", at=T0, display_name="X")
    again = identity("00u-x", at=later, display_name="X renamed")
    old_news = identity("00u-x", at=earlier, team="Old team")
    assert first.pk == again.pk == old_news.pk
    assert Identity.objects.filter(subject="00u-x").count() == 1
    assert (old_news.first_seen, old_news.last_seen) == (earlier, later)
    assert old_news.display_name == "X renamed"  # None means "leave it alone"
    assert old_news.team == ""  # an older sighting does not overwrite newer facts


def test_a_late_report_does_not_move_last_seen_back_or_change_seen_from():
    identity("00u-y", at=T0, seen_from="idp")
    stale = identity("00u-y", at=T0 - timedelta(days=1), seen_from="events")
    assert stale.last_seen == T0 and stale.seen_from == "idp"


def test_upsert_client_never_overrides_a_human_review_decision():
    c = client("https://a.example/c.json")
    assert c.registration == "cimd"
    entities.set_review_status(c, status="blocked", actor=None)
    c = client("https://a.example/c.json", review_status="approved")
    assert c.review_status == "blocked"


def test_a_sighting_without_a_registration_kind_keeps_the_stated_one():
    client("svc-etl", registration="client_credentials", at=T0)
    c = client("svc-etl", at=T0 + timedelta(days=1))
    assert c.registration == "client_credentials" and c.last_seen == T0 + timedelta(days=1)


def test_upsert_server_records_remotes_and_marks_non_conforming_tool_names():
    s = server(
        remotes=[{"url": "https://m.example/mcp"}],
        tools=[{"name": "search_docs"}, {"name": "close ticket"}, {"name": "a/b"}],
    )
    server(remotes=[{"url": "https://m.example/mcp"}], tools=[{"name": "search_docs"}])
    assert list(s.remotes.values_list("url", flat=True)) == ["https://m.example/mcp"]
    assert dict(s.tools.values_list("name", "name_conforms")) == {
        "search_docs": True,
        "close ticket": False,
        "a/b": False,
    }


def test_grants_are_keyed_by_issuer_and_external_id():
    c = client()
    a = grant("g-1", client=c, scopes=["read"])
    b = grant("g-1", client=c, scopes=["read", "write"])
    other_issuer = grant("g-1", client=c, issuer="https://login.example/")
    assert a.pk == b.pk != other_issuer.pk
    assert b.scopes == ["read", "write"]


def test_a_grants_last_use_never_moves_back_when_an_older_report_arrives():
    c = client()
    grant("g-used", client=c, last_used_at=T0 + timedelta(hours=5))
    g = grant("g-used", client=c, last_used_at=T0 + timedelta(hours=1))
    assert g.last_used_at == T0 + timedelta(hours=5)
    g = grant("g-used", client=c, last_used_at=T0 + timedelta(hours=9))
    assert g.last_used_at == T0 + timedelta(hours=9)


def test_a_new_task_starts_with_one_history_row():
    t = task(server=server())
    assert t.status == "working"
    assert list(t.status_history.values_list("from_status", "to_status")) == [("", "working")]


def test_a_legal_status_report_is_applied_and_recorded():
    t = task(server=server())
    entities.report_task_status(t, status="input_required", at=T0 + timedelta(minutes=1))
    entities.report_task_status(t, status="completed", at=T0 + timedelta(minutes=2), message="done")
    t.refresh_from_db()
    assert (t.status, t.status_message, t.flagged) == ("completed", "done", False)
    assert t.status_history.filter(is_legal=True).count() == 3


def test_a_task_leaving_a_terminal_state_is_recorded_flagged_and_not_applied():
    t = task(server=server())
    entities.report_task_status(t, status="completed", at=T0 + timedelta(minutes=1))
    change = entities.report_task_status(
        t, status="working", at=T0 + timedelta(minutes=2), event_ref="evt-9"
    )
    t.refresh_from_db()
    assert t.status == "completed"
    assert t.flagged and "working" in t.flag_reason
    assert change.is_legal is False and change.from_status == "completed"
    flag = Flag.objects.get(kind="task.illegal_transition", object_id=str(t.pk))
    assert flag.details["event_ref"] == "evt-9" and flag.resolved_at is None


def test_reporting_the_same_terminal_status_again_is_not_illegal():
    t = task(server=server())
    entities.report_task_status(t, status="failed", at=T0 + timedelta(minutes=1))
    entities.report_task_status(t, status="failed", at=T0 + timedelta(minutes=2))
    t.refresh_from_db()
    assert not t.flagged
    assert TaskStatusChange.objects.filter(task=t).count() == 3


def test_upsert_task_routes_a_changed_status_through_the_legality_check():
    s = server()
    task("t-9", server=s, status="cancelled")  # first seen already terminal: accepted
    t = task("t-9", server=s, status="working")
    assert (t.status, t.flagged) == ("cancelled", True)


def test_an_unknown_task_status_is_refused_by_name():
    t = task(server=server())
    with pytest.raises(ValueError, match="status"):
        entities.report_task_status(t, status="paused", at=T0)


def test_changing_a_review_status_records_who_and_before_after(admin_user):
    s = server()
    entities.set_review_status(s, status="approved", actor=admin_user)
    s.refresh_from_db()
    action = AdminAction.objects.get(action="server.review_status_changed")
    assert s.review_status == "approved"
    assert action.actor == admin_user and action.object_id == str(s.pk)
    assert (action.before, action.after) == (
        {"review_status": "unreviewed"},
        {"review_status": "approved"},
    )


def test_setting_the_same_review_status_again_records_nothing(admin_user):
    c = client()
    entities.set_review_status(c, status="blocked", actor=admin_user)
    entities.set_review_status(c, status="blocked", actor=admin_user)
    assert AdminAction.objects.filter(action="client.review_status_changed").count() == 1


def test_an_unknown_review_status_is_refused_and_nothing_is_recorded(admin_user):
    c = client()
    with pytest.raises(ValueError, match="status"):
        entities.set_review_status(c, status="maybe", actor=admin_user)
    assert not AdminAction.objects.exists()


def test_upserts_treat_a_missing_server_or_registry_as_one_key_not_many():
    t1 = entities.upsert_task(task_id="t-orphan", server=None, at=T0)[0]
    t2, created = entities.upsert_task(task_id="t-orphan", server=None, at=T0)
    assert t1.pk == t2.pk and not created
    s = server()
    v1 = entities.upsert_server_version(server=s, version="1.0.0", at=T0)[0]
    v2 = entities.upsert_server_version(server=s, version="1.0.0", at=T0)[0]
    assert v1.pk == v2.pk


def test_a_revocation_reported_without_a_time_is_dated_at_the_sighting():
    g = grant("g-r", client=client(), status="revoked", at=T0 + timedelta(hours=2))
    assert g.revoked_at == T0 + timedelta(hours=2)


def test_an_objects_open_flags_of_given_kinds_are_resolved_in_one_update(django_assert_num_queries):
    from inventory.services.flags import raise_flag, resolve_open_flags

    crm, wiki = server("io.github.acme/crm"), server("io.github.acme/wiki")
    stale = [
        raise_flag(kind="oauth.a", obj=crm, summary="a"),
        raise_flag(kind="oauth.b", obj=crm, summary="b"),
        raise_flag(kind="oauth.a", obj=crm, summary="a, other remote", dedup_key="7"),
    ]
    kept = raise_flag(kind="oauth.b", obj=crm, summary="raised again", dedup_key="8")
    untouched = [
        raise_flag(kind="oauth.c", obj=crm, summary="another kind"),
        raise_flag(kind="oauth.a", obj=wiki, summary="another server"),
    ]
    with django_assert_num_queries(1):
        closed = resolve_open_flags(
            crm, ("oauth.a", "oauth.b"), keep=[kept.pk], by="system: gone", at=T0
        )
    assert closed == 3
    assert {
        (f.resolved_at, f.resolved_by) for f in Flag.objects.filter(pk__in=[f.pk for f in stale])
    } == {(T0, "system: gone")}
    assert not Flag.objects.filter(
        pk__in=[kept.pk] + [f.pk for f in untouched], resolved_at__isnull=False
    ).exists()
    # With a dedup key, only that key's flags: another remote's stay open.
    again = raise_flag(kind="oauth.b", obj=crm, summary="b again")
    assert resolve_open_flags(crm, ["oauth.b"], dedup_key="8", by="system: gone") == 1
    kept.refresh_from_db()
    again.refresh_from_db()
    assert kept.resolved_by == "system: gone" and again.resolved_at is None
