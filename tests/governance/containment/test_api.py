"""The revocations API: Viewers read revocations and their steps; Admins (an API token of scope
"admin") start one, ask for its plan, undo a kill switch; bad input is a 400 naming the field;
everything is in the OpenAPI schema."""

from __future__ import annotations

import pytest
from django.test import Client as DjangoClient

from governance.access import api_tokens
from governance.containment import plan, targets
from governance.containment.models import Revocation
from inventory.models import Flag, Task
from tests.governance.containment.conftest import oauth_connection
from tests.governance.containment.rows import revocation_row, step_row
from tests.ui_factories import OKTA, T0, small_inventory

pytestmark = pytest.mark.django_db

API = "/api/v1/revocations/"


@pytest.fixture
def inv(db):
    """Two identities, two clients, a server, three grants (one active) and a running task."""
    return small_inventory()


def _bearer(user, scope: str) -> DjangoClient:
    _, secret = api_tokens.create_token(actor=user, name=f"t-{scope}", scope=scope)
    return DjangoClient(HTTP_AUTHORIZATION=f"Bearer {secret}")


def _post(client, url, body):
    return client.post(url, body, content_type="application/json")


def test_viewers_read_a_revocation_with_its_steps_orphans_and_flags(viewer_client, inv):
    rev = revocation_row(action="client", client=inv["cursor"], proof="verified")
    step_row(rev, 2, kind="verify", operation="verify_client_inactive", state="done", verified=True)
    step_row(rev, 1, state="failed", attempts=3, error="E0000006", request_summary={"m": "POST"})
    Task.objects.filter(pk=inv["task"].pk).update(orphaned_by_revocation=rev.pk, orphaned_at=T0)
    flag = Flag.objects.create(
        kind="containment.used_after_revocation",
        object_type="inventory.client",
        object_id=str(inv["cursor"].pk),
        summary="used after",
        details={"revocation": rev.pk},
        raised_at=T0,
        last_raised_at=T0,
    )
    listed = viewer_client.get(API).json()
    assert listed["count"] == 1 and listed["results"][0]["action"] == "client"
    detail = viewer_client.get(f"{API}{rev.pk}/").json()
    assert [s["position"] for s in detail["steps"]] == [1, 2]
    assert detail["steps"][0]["error"] == "E0000006" and detail["steps"][0]["attempts"] == 3
    assert detail["steps"][1]["verified"] is True and detail["proof"] == "verified"
    assert detail["orphaned_tasks"] == [inv["task"].pk]
    assert detail["used_after_flags"] == [flag.pk]


def test_the_list_filters_by_action_and_outcome_and_names_a_bad_one(viewer_client, inv):
    revocation_row(action="grant", outcome="done", grant=inv["grant"])
    revocation_row(action="client", outcome="partial", client=inv["cursor"])
    assert [
        r["action"] for r in viewer_client.get(API, {"outcome": "partial"}).json()["results"]
    ] == ["client"]
    bad = viewer_client.get(API, {"action": "nuke"})
    assert bad.status_code == 400 and list(bad.json()) == ["action"]


def test_starting_needs_admin_and_a_token_of_scope_admin(viewer_client, admin_user, inv):
    body = {"action": "grant", "grant": inv["grant"].pk, "reason": "stolen laptop"}
    assert _post(viewer_client, API, body).status_code == 403
    assert _post(_bearer(admin_user, "read"), API, body).status_code == 403
    assert _post(_bearer(admin_user, "export"), f"{API}plan/", body).status_code == 403
    assert not Revocation.objects.exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "action"),
        ({"action": "nuke", "reason": "r"}, "action"),
        ({"action": "grant", "grant": 1}, "reason"),
        ({"action": "grant", "grant": 1, "reason": "   "}, "reason"),
        ({"action": "grant", "reason": "r"}, "grant"),
        ({"action": "grant", "grant": "x", "reason": "r"}, "grant"),
        ({"action": "grant", "grant": 999999, "reason": "r"}, "grant"),
        ({"action": "identity_client", "identity": "{alice}", "reason": "r"}, "client"),
        ({"action": "client", "client": 999999, "reason": "r"}, "client"),
        ({"action": "bulk", "reason": "r"}, "filter"),
        ({"action": "bulk", "reason": "r", "filter": {"colour": "red"}}, "filter"),
        ({"action": "bulk", "reason": "r", "filter": {"status": "gone"}}, "filter"),
        ({"action": "bulk", "reason": "r", "filter": "status=active"}, "filter"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(admin_client_, inv, body, field):
    if body.get("identity") == "{alice}":
        body = {**body, "identity": inv["alice"].pk}
    answer = _post(admin_client_, API, body)
    assert answer.status_code == 400, answer.content
    assert field in answer.json(), answer.json()
    assert not Revocation.objects.exists()


def test_token_values_are_for_one_grant_only_and_never_echoed(admin_client_, inv):
    body = {"action": "client", "client": inv["cursor"].pk, "reason": "r"}
    answer = _post(admin_client_, API, {**body, "tokens": ["secret-token-value-1"]})
    assert answer.status_code == 400 and list(answer.json()) == ["tokens"]
    assert "secret-token-value-1" not in answer.content.decode()


def test_a_bad_dry_run_flag_is_a_400_naming_it(admin_client_, inv):
    body = {"action": "grant", "grant": inv["grant"].pk, "reason": "r"}
    answer = _post(admin_client_, f"{API}?dry_run=perhaps", body)
    assert answer.status_code == 400 and list(answer.json()) == ["dry_run"]


def test_dry_run_and_plan_answer_the_plan_and_start_nothing(admin_client_, inv):
    body = {"action": "identity", "identity": inv["alice"].pk, "reason": "r"}
    expected = targets.plan_for(targets.resolve("identity", {"identity": inv["alice"].pk}))
    for answer in (
        _post(admin_client_, f"{API}?dry_run=1", body),
        _post(admin_client_, f"{API}plan/", {k: v for k, v in body.items() if k != "reason"}),
    ):
        assert answer.status_code == 200, answer.content
        data = answer.json()
        assert (data["grants"], data["tokens"], data["sessions"], data["tasks"]) == (
            expected.grants,
            expected.tokens,
            expected.sessions,
            expected.tasks,
        )
        assert [s["description"] for s in data["steps"]] == [s.description for s in expected.steps]
        assert data["cap"] == plan.BULK_CAP and data["matched"] is None
    assert not Revocation.objects.exists()


def test_a_bulk_plan_says_how_many_grants_the_filter_matched(admin_client_, inv):
    body = {"action": "bulk", "filter": {"client": str(inv["cursor"].pk)}}
    data = _post(admin_client_, f"{API}plan/", body).json()
    assert data["matched"] == 1 and data["action"] == "bulk"


def test_nothing_to_revoke_is_a_400_naming_the_target(admin_client_, inv):
    body = {"action": "identity", "identity": inv["alice"].pk, "reason": "offboarded"}
    answer = _post(admin_client_, API, body)
    assert answer.status_code == 400 and "Nothing can be revoked" in answer.json()["identity"][0]
    plan_answer = _post(admin_client_, f"{API}plan/", body).json()
    assert plan_answer["nothing"] is True
    assert all(s["skip_reason"] for s in plan_answer["steps"] if s["kind"] == "call")


def test_an_admin_token_starts_a_revocation_and_gets_it_back_with_its_steps(admin_user, inv):
    oauth_connection(OKTA, name="acme-as")
    body = {"action": "identity", "identity": inv["alice"].pk, "reason": "offboarded"}
    answer = _post(_bearer(admin_user, "admin"), API, body)
    assert answer.status_code == 202, answer.content
    data = answer.json()
    rev = Revocation.objects.get()
    assert (
        data["id"] == rev.pk
        and data["reason"] == "offboarded"
        and data["identity"] == inv["alice"].pk
    )
    assert len(data["steps"]) == rev.steps.count() > 0


def test_undo_of_anything_but_a_finished_kill_switch_is_a_400(admin_client_, inv):
    rev = revocation_row(grant=inv["grant"])
    answer = _post(admin_client_, f"{API}{rev.pk}/undo/", {"reason": "oops"})
    assert answer.status_code == 400 and list(answer.json()) == ["revocation"]
    kill = revocation_row(action="client", client=inv["cursor"])
    no_reason = _post(admin_client_, f"{API}{kill.pk}/undo/", {})
    assert no_reason.status_code == 400 and list(no_reason.json()) == ["reason"]


def test_an_admin_undoes_a_kill_switch_once(admin_client_, inv):
    kill = revocation_row(action="client", client=inv["cursor"])
    step_row(kill, 1, kind="local", operation="block_client", state="done")
    answer = _post(admin_client_, f"{API}{kill.pk}/undo/", {"reason": "false alarm"})
    assert answer.status_code == 202 and answer.json()["undoes"] == kill.pk
    again = _post(admin_client_, f"{API}{kill.pk}/undo/", {"reason": "twice"})
    assert again.status_code == 400 and list(again.json()) == ["revocation"]


def test_the_schema_documents_every_revocation_operation(viewer_client):
    paths = viewer_client.get("/api/v1/schema/?format=json").json()["paths"]
    assert {"get", "post"} <= set(paths[API])
    assert "dry_run" in {p["name"] for p in paths[API]["post"]["parameters"]}
    assert {"action", "outcome"} <= {p["name"] for p in paths[API]["get"]["parameters"]}
    assert "post" in paths[f"{API}plan/"] and "post" in paths[f"{API}{{id}}/undo/"]
    assert "get" in paths[f"{API}{{id}}/"]
