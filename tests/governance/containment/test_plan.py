"""The dry run: what each action would touch, counted on real inventory rows, and the steps in
their order (calls, console state, tasks, verifications); what cannot be done is a warning and
a skipped step, never dropped."""

from __future__ import annotations

import pytest

from governance.containment import plan as planning
from inventory import queries
from inventory.models import Grant
from tests import ui_factories as f
from tests.governance.containment.conftest import AS_ISSUER, inventory, oauth_connection

pytestmark = pytest.mark.django_db

ELSEWHERE = "https://unknown-idp.example"


def kinds(plan):
    return [(s.kind, s.operation, bool(s.skip_reason)) for s in plan.steps]


def test_revoking_what_an_identity_granted_a_client_counts_grants_tokens_tasks_and_idps():
    connection = oauth_connection()
    rows = inventory(AS_ISSUER, ["g-1", "g-2"])
    rows.grants[0].has_refresh_token = True
    rows.grants[0].save()
    f.grant(
        "g-old",
        client=rows.agent,
        subject=rows.alice,
        issuer=AS_ISSUER,
        status="revoked",
        revoked_at=f.T0,
    )
    stray = f.grant("g-3", client=rows.agent, subject=rows.alice, issuer=ELSEWHERE)
    crm = f.server("io.github.acme/crm")
    f.task("t-1", server=crm, grant=rows.grants[1], status="working")
    f.task("t-2", server=crm, grant=rows.grants[1], status="completed")

    plan = planning.plan_identity_client(rows.alice, rows.agent)

    assert (plan.grants, plan.tokens, plan.tasks, plan.clients) == (3, 1, 1, 1)
    assert plan.idps == [connection.name]
    assert sorted(plan.grant_ids) == sorted([*(g.pk for g in rows.grants), stray.pk])
    # The oauth kind cannot revoke by (user, client): grant by grant, and the stray grant's
    # issuer has no connection: a skipped call with the reason, and a warning line.
    assert kinds(plan) == [
        ("call", "revoke", False),
        ("call", "revoke", False),
        ("call", "revoke", True),
        ("local", "mark_revoked", False),
        ("task", "mark_orphaned", False),
        ("verify", "verify_absent", False),
        ("verify", "verify_absent", False),
        ("verify", "verify_absent", True),
    ]
    skipped = plan.steps[2]
    assert "no IdP connection answers for the issuer" in skipped.skip_reason
    assert any(ELSEWHERE in w for w in plan.warnings)
    # Each verification names the call it checks.
    assert [s.target["call_position"] for s in plan.steps[5:]] == [1, 2, 3]


def test_the_kill_switch_plans_deactivation_per_idp_and_says_what_the_kind_cannot_do():
    oauth_connection()
    rows = inventory(AS_ISSUER, ["g-1"])
    plan = planning.plan_client(rows.agent)
    assert plan.clients == 1 and plan.grants == 1
    ops = kinds(plan)
    assert ("call", "deactivate", True) in ops
    assert ("call", "revoke_client_grants", True) in ops
    assert ("call", "revoke", False) in ops
    assert ("local", "block_client", False) in ops
    assert any("deactivate is not supported" in w for w in plan.warnings)


def test_cutting_an_identity_off_counts_one_session_per_idp_that_can_end_them():
    oauth_connection()
    rows = inventory(AS_ISSUER, ["g-1"])
    plan = planning.plan_identity(rows.alice)
    assert plan.sessions == 0  # the oauth kind cannot end sessions: said, and skipped
    assert ("call", "cut_off_identity", True) in kinds(plan)
    assert ("local", "cut_off_identity", False) in kinds(plan)


def test_a_demo_connection_without_credential_is_a_reason_not_a_call():
    connection = oauth_connection()
    connection.secret_encrypted = ""
    connection.is_demo = True
    connection.save()
    rows = inventory(AS_ISSUER, ["g-1"])
    plan = planning.plan_grant(rows.grants[0])
    assert plan.runnable_calls == 0
    assert "without a credential" in plan.steps[0].skip_reason


def test_a_bulk_revocation_is_capped_and_says_how_many_matched(monkeypatch):
    oauth_connection()
    inventory(AS_ISSUER, ["g-1", "g-2", "g-3"])
    monkeypatch.setattr(planning, "BULK_CAP", 2)
    params = {"issuer": AS_ISSUER}
    plan = planning.plan_bulk(queries.grants(params), params)
    assert (plan.matched, plan.grants) == (3, 2)
    assert any("3 active grants match" in w for w in plan.warnings)
    assert plan.target_key == planning.plan_bulk(queries.grants(params), params).target_key


def test_a_token_the_admin_holds_is_revoked_by_value_and_introspected():
    oauth_connection()
    rows = inventory(AS_ISSUER, ["g-1"])
    token = {"encrypted": "x", "hint": "abcdef…"}
    plan = planning.plan_grant(rows.grants[0], tokens=[token])
    assert plan.tokens == 1
    assert ("call", "revoke_token", False) in kinds(plan)
    assert ("verify", "verify_introspection", False) in kinds(plan)
    assert all("abcdef…" in s.description for s in plan.steps if "token" in s.operation)


def test_an_inactive_grant_plans_nothing():
    oauth_connection()
    rows = inventory(AS_ISSUER, ["g-1"])
    Grant.objects.filter(pk=rows.grants[0].pk).update(status="expired")
    plan = planning.plan_grant(rows.grants[0])
    assert plan.runnable_calls == 0 and plan.grants == 0
