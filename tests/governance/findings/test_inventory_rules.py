"""The scheduled rules over inventory state raise what a security team must hear about, and
resolve it themselves once the condition clears."""

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.findings.rules import SCHEDULED_RULES, run_scheduled_rules
from inventory.models import (
    Client,
    ClientDocument,
    ClientDocumentState,
    Finding,
    FindingChange,
    Grant,
    Identity,
    Server,
    Task,
)
from inventory.services.flags import raise_flag
from inventory.services.inventory_rules import run_inventory_rule
from inventory.services.rule_settings import save_rule_overrides
from inventory.tasks import flag_tasks_past_ttl

pytestmark = pytest.mark.django_db

NOW = timezone.now()
ISSUER = "https://idp.example"


def _identity(subject="alice", **kw):
    kw.setdefault("display_name", subject.title())
    return Identity.objects.create(
        issuer=ISSUER, subject=subject, first_seen=NOW, last_seen=NOW, **kw
    )


def _client(client_id="agent-1", **kw):
    first = kw.pop("first_seen", NOW - timedelta(days=60))
    return Client.objects.create(client_id=client_id, first_seen=first, last_seen=NOW, **kw)


_grants = iter(range(1, 10_000))


def _grant(client, subject=None, **kw):
    kw.setdefault("issued_at", NOW - timedelta(days=5))
    kw.setdefault("last_used_at", NOW - timedelta(days=1))
    if kw.get("status") == "revoked":
        kw.setdefault("revoked_at", NOW - timedelta(hours=1))
    return Grant.objects.create(
        client=client,
        subject=subject,
        issuer=ISSUER,
        external_id=f"g-{next(_grants)}",
        first_seen=NOW - timedelta(days=5),
        last_seen=NOW,
        **kw,
    )


def _open(kind):
    return list(Finding.objects.open().filter(kind=kind).order_by("id"))


def _run(kind, at=NOW):
    return run_inventory_rule(kind, now=at)


def test_a_disabled_identity_holding_active_grants_is_found_until_its_grants_are_revoked():
    bob, alice = _identity("bob", status="disabled"), _identity("alice")
    agent = _client()
    live = [_grant(agent, bob), _grant(agent, bob, scopes=["crm:read"])]
    _grant(agent, bob, status="revoked")
    _grant(agent, bob, expires_at=NOW - timedelta(days=1))  # expired by time: not active
    _grant(agent, bob, vanished_at=NOW - timedelta(days=1))  # gone at the IdP: not active
    _grant(agent, alice)
    assert _run("identity.inactive_with_grants")["raised"] == 1
    [finding] = _open("identity.inactive_with_grants")
    assert (finding.object_type, finding.object_id) == ("inventory.identity", str(bob.pk))
    assert finding.severity == "high" and finding.summary.startswith("Bob is disabled")
    assert finding.details["grant_ids"] == [g.pk for g in live]
    assert finding.details["grant_count"] == 2
    Grant.objects.filter(pk__in=[g.pk for g in live]).update(status="revoked", revoked_at=NOW)
    assert _run("identity.inactive_with_grants")["resolved"] == 1
    finding.refresh_from_db()
    assert (finding.status, finding.resolution, finding.resolved_by) == (
        "resolved",
        "cleared",
        "rule",
    )


def test_a_blocked_client_with_active_grants_is_found_and_cleared_when_unblocked():
    blocked = _client("svc-crm", name="CRM sync", review_status="blocked")
    _grant(blocked), _grant(blocked, status="revoked")
    _grant(_client("svc-ok", review_status="approved"))
    _run("client.blocked_with_grants")
    [finding] = _open("client.blocked_with_grants")
    assert finding.object_id == str(blocked.pk) and finding.details["grant_count"] == 1
    assert finding.summary == "Blocked client CRM sync still holds 1 active grant"
    Client.objects.filter(pk=blocked.pk).update(review_status="approved")
    _run("client.blocked_with_grants")
    assert _open("client.blocked_with_grants") == []


def test_a_grant_unused_past_the_threshold_is_dormant_until_used_again():
    agent = _client()
    idle = _grant(agent, last_used_at=NOW - timedelta(days=120))
    never = _grant(agent, last_used_at=None, issued_at=NOW - timedelta(days=100))
    _grant(agent, last_used_at=NOW - timedelta(days=10))
    _grant(agent, last_used_at=NOW - timedelta(days=200), status="revoked")
    _run("grant.dormant")
    found = {f.object_id: f for f in _open("grant.dormant")}
    assert set(found) == {str(idle.pk), str(never.pk)}
    assert "unused for 120 days" in found[str(idle.pk)].summary
    assert "never used for 100 days" in found[str(never.pk)].summary
    assert found[str(idle.pk)].details["grant_ids"] == [idle.pk]
    Grant.objects.filter(pk=idle.pk).update(last_used_at=NOW)
    _run("grant.dormant")
    assert [f.object_id for f in _open("grant.dormant")] == [str(never.pk)]
    # An Admin who counts 150 days as dormant clears the other one too.
    save_rule_overrides("grant.dormant", enabled=True, severity="info", thresholds={"days": 150})
    _run("grant.dormant")
    assert _open("grant.dormant") == []


def test_broad_scopes_on_an_agent_are_found_by_the_admins_patterns():
    agent, alice = _client("agent-1", name="Agent"), _identity()
    admin = _grant(agent, alice, scopes=["crm:read", "crm:admin"])
    _grant(agent, alice, scopes=["crm:read", "crm:write"])
    wildcard = _grant(agent, scopes=["*"])
    _run("grant.broad_scopes")
    found = {f.object_id: f for f in _open("grant.broad_scopes")}
    assert set(found) == {str(admin.pk), str(wildcard.pk)}
    assert found[str(admin.pk)].details["scopes"] == ["crm:admin"]
    assert found[str(admin.pk)].summary == "Agent holds broad scopes for Alice: crm:admin"
    save_rule_overrides(
        "grant.broad_scopes",
        enabled=True,
        severity="high",
        thresholds={"patterns": [".*:write"]},
    )
    _run("grant.broad_scopes")
    [finding] = _open("grant.broad_scopes")
    assert finding.details["scopes"] == ["crm:write"] and finding.severity == "high"


def test_a_client_credentials_grant_with_user_scopes_is_found():
    machine = _grant(_client("svc"), grant_type="client_credentials", scopes=["openid", "a:read"])
    _grant(_client("app"), _identity(), scopes=["openid", "profile"])  # a person's: fine
    _run("grant.client_credentials_user_scopes")
    [finding] = _open("grant.client_credentials_user_scopes")
    assert finding.object_id == str(machine.pk) and finding.details["scopes"] == ["openid"]
    Grant.objects.filter(pk=machine.pk).update(scopes=["a:read"])
    _run("grant.client_credentials_user_scopes")
    assert _open("grant.client_credentials_user_scopes") == []


def test_a_task_still_running_after_its_grant_was_revoked_is_found_until_it_ends():
    crm = Server.objects.create(name="io.example/crm", first_seen=NOW, last_seen=NOW)
    agent = _client()
    revoked, live = _grant(agent, status="revoked"), _grant(agent)

    def task(task_id, grant, status="working"):
        return Task.objects.create(
            task_id=task_id, server=crm, grant=grant, status=status, first_seen=NOW, last_seen=NOW
        )

    orphan = task("t-1", revoked)
    task("t-2", live), task("t-3", revoked, status="completed")
    _run("task.running_after_revocation")
    [finding] = _open("task.running_after_revocation")
    assert finding.object_id == str(orphan.pk)
    assert finding.summary == "Task t-1 on io.example/crm still working after its grant was revoked"
    assert finding.details["grant_ids"] == [revoked.pk]
    Task.objects.filter(pk=orphan.pk).update(status="cancelled")
    _run("task.running_after_revocation")
    assert _open("task.running_after_revocation") == []


def test_a_new_client_with_metadata_problems_is_risky_until_the_problems_go():
    new = _client("https://new.example/c.json", first_seen=NOW - timedelta(days=2))
    old = _client("https://old.example/c.json", first_seen=NOW - timedelta(days=60))
    invalid = _client("https://bad.example/c.json", first_seen=NOW - timedelta(days=1))
    secret = raise_flag(kind="cimd.secret_published", obj=new, summary="secret", severity="high")
    raise_flag(kind="cimd.secret_published", obj=old, summary="secret", severity="high")
    doc = ClientDocument.objects.create(
        client=invalid, sha256="a" * 64, is_valid=False, first_fetched_at=NOW, last_fetched_at=NOW
    )
    ClientDocumentState.objects.create(client=invalid, current=doc, outcome="invalid")
    _run("client.risky_first_seen")
    found = {f.object_id: f for f in _open("client.risky_first_seen")}
    assert set(found) == {str(new.pk), str(invalid.pk)}
    assert found[str(new.pk)].details["finding_ids"] == [secret.pk]
    assert found[str(invalid.pk)].details["document_version_ids"] == [doc.pk]
    # Ageing past "new" does not clear it: only the problems going does.
    later = NOW + timedelta(days=30)
    _run("client.risky_first_seen", at=later)
    assert len(_open("client.risky_first_seen")) == 2
    Finding.objects.filter(pk=secret.pk).update(
        status="resolved", resolved_at=later, resolution="manual"
    )
    _run("client.risky_first_seen", at=later)
    assert [f.object_id for f in _open("client.risky_first_seen")] == [str(invalid.pk)]


def test_a_rule_turned_off_raises_nothing_and_resolves_what_it_had_raised():
    _grant(_client("svc", review_status="blocked"))
    _run("client.blocked_with_grants")
    save_rule_overrides("client.blocked_with_grants", enabled=False, severity="high", thresholds={})
    assert _run("client.blocked_with_grants") == {"raised": 0, "refreshed": 0, "resolved": 1}
    change = FindingChange.objects.filter(action="cleared").get()
    assert change.note == "condition cleared: rule disabled"
    assert _open("client.blocked_with_grants") == []


def test_an_admins_severity_applies_to_new_and_refreshed_findings():
    _grant(_client("svc", review_status="blocked"))
    _run("client.blocked_with_grants")
    save_rule_overrides(
        "client.blocked_with_grants", enabled=True, severity="critical", thresholds={}
    )
    _run("client.blocked_with_grants")
    [finding] = _open("client.blocked_with_grants")
    assert finding.severity == "critical" and finding.times_raised == 2


def test_the_scheduled_run_covers_every_inventory_rule_and_task_past_ttl():
    kinds = {getattr(rule, "kind", rule.__name__) for rule in SCHEDULED_RULES}
    assert {
        "identity.inactive_with_grants",
        "client.blocked_with_grants",
        "grant.dormant",
        "grant.broad_scopes",
        "grant.client_credentials_user_scopes",
        "task.running_after_revocation",
        "client.risky_first_seen",
        "task.past_ttl",
    } <= kinds
    crm = Server.objects.create(name="io.example/crm", first_seen=NOW, last_seen=NOW)
    stale = Task.objects.create(
        task_id="t-stale",
        server=crm,
        status="working",
        ttl_ms=60_000,
        created_at=NOW - timedelta(hours=2),
        first_seen=NOW,
        last_seen=NOW,
    )
    _grant(_client("svc", review_status="blocked"))
    results = run_scheduled_rules(NOW)
    assert results["task.past_ttl"]["raised"] == 1
    assert results["client.blocked_with_grants"]["raised"] == 1
    assert results["suppressions"] == {"ended": 0}
    assert Finding.objects.open().get(kind="task.past_ttl").object_id == str(stale.pk)
    # Running again raises nothing new.
    again = run_scheduled_rules(NOW + timedelta(minutes=5))
    assert all(r.get("raised", 0) == 0 for k, r in again.items() if k != "suppressions")


def test_a_task_past_ttl_rule_turned_off_resolves_its_findings():
    crm = Server.objects.create(name="io.example/crm", first_seen=NOW, last_seen=NOW)
    Task.objects.create(
        task_id="t-stale",
        server=crm,
        ttl_ms=60_000,
        created_at=NOW - timedelta(hours=2),
        first_seen=NOW,
        last_seen=NOW,
    )
    run_scheduled_rules(NOW, kinds={"task.past_ttl"})
    save_rule_overrides("task.past_ttl", enabled=False, severity="warning", thresholds={})
    assert run_scheduled_rules(NOW, kinds={"task.past_ttl"})["task.past_ttl"]["resolved"] == 1
    # inventory's own beat sweep obeys the setting too: it raises nothing while turned off
    assert flag_tasks_past_ttl()["raised"] == 0
    save_rule_overrides("task.past_ttl", enabled=True, severity="high", thresholds={})
    assert flag_tasks_past_ttl()["raised"] == 1
    assert Finding.objects.open().get(kind="task.past_ttl").severity == "high"


def test_one_failing_rule_is_reported_and_the_others_still_run(monkeypatch):
    def broken(now):
        raise RuntimeError("rollups unavailable")

    broken.kind = "test.broken_rule"
    monkeypatch.setattr("governance.findings.rules.SCHEDULED_RULES", [broken, *SCHEDULED_RULES])
    _grant(_client("svc", review_status="blocked"))
    results = run_scheduled_rules(NOW)
    assert results["test.broken_rule"] == {"error": "rollups unavailable"}
    assert results["client.blocked_with_grants"]["raised"] == 1


def test_suppressions_whose_end_passed_reopen_with_a_note():
    agent = _client("svc", review_status="blocked")
    _grant(agent)
    _run("client.blocked_with_grants")
    Finding.objects.update(status="suppressed", suppressed_until=NOW + timedelta(hours=1))
    assert run_scheduled_rules(NOW)["suppressions"] == {"ended": 0}
    assert run_scheduled_rules(NOW + timedelta(hours=2))["suppressions"] == {"ended": 1}
    [finding] = _open("client.blocked_with_grants")
    assert finding.status == "open"
    change = finding.changes.order_by("id").last()
    assert (change.action, change.actor, change.note) == ("reopened", "rule", "suppression ended")
