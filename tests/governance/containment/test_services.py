"""Starting a revocation: validated, planned, opened as a job with its steps, recorded as an
admin action and appended to the audit chain; confirming twice joins the open one."""

from __future__ import annotations

import pytest

from audit.models import AuditEvent
from governance.access.models import AdminAction
from governance.containment import services
from governance.containment.models import Revocation, RevocationStep
from tests.governance.containment.conftest import AS_ISSUER, inventory, oauth_connection

pytestmark = pytest.mark.django_db


def start(actor, rows, **kw):
    kw.setdefault("reason", "leaked laptop")
    return services.start_revocation(
        actor=actor,
        action="identity_client",
        identity=rows.alice,
        client=rows.agent,
        enqueue=False,
        **kw,
    )


def test_starting_a_revocation_records_an_admin_action_and_an_audit_event(admin_user):
    oauth_connection()
    rows = inventory(AS_ISSUER, ["g-1", "g-2"])
    revocation = start(admin_user, rows)

    assert revocation.status == "queued" and revocation.actor == admin_user
    assert revocation.requested_by == admin_user.username
    assert revocation.plan["grants"] == 2
    steps = RevocationStep.objects.filter(revocation=revocation)
    assert [s.position for s in steps] == list(range(1, steps.count() + 1))
    record = AdminAction.objects.get(action="revocation.start")
    assert record.object_id == str(revocation.pk)
    assert record.after["reason"] == "leaked laptop"
    event = AuditEvent.objects.get(type="governance.revocation.started")
    assert event.source.name == "console"
    assert event.actor_subject == ""  # the admin is no inventory identity


def test_a_reason_is_required(admin_user):
    oauth_connection()
    rows = inventory(AS_ISSUER, ["g-1"])
    with pytest.raises(ValueError, match="reason"):
        start(admin_user, rows, reason="  ")
    assert not Revocation.objects.exists()


def test_confirming_twice_joins_the_open_revocation(admin_user):
    oauth_connection()
    rows = inventory(AS_ISSUER, ["g-1"])
    first = start(admin_user, rows)
    again = start(admin_user, rows, reason="clicked twice")
    assert again.pk == first.pk
    assert AdminAction.objects.filter(action="revocation.start").count() == 1


def test_nothing_to_revoke_names_why(admin_user):
    rows = inventory("https://nobody-connected.example", ["g-1"])
    with pytest.raises(services.NothingToRevoke, match="no IdP connection"):
        start(admin_user, rows)


def test_a_bad_bulk_filter_names_the_parameter(admin_user):
    with pytest.raises(ValueError, match="unused_days"):
        services.start_revocation(
            actor=admin_user, action="bulk", reason="x", filter_params={"unused_days": "soon"}
        )


def test_undo_is_only_for_a_revocation_that_deactivated_something(admin_user):
    oauth_connection()
    rows = inventory(AS_ISSUER, ["g-1"])
    revocation = start(admin_user, rows)
    Revocation.objects.filter(pk=revocation.pk).update(status="done")
    revocation.refresh_from_db()
    with pytest.raises(services.NothingToRevoke, match="deactivated nothing"):
        services.undo_revocation(actor=admin_user, revocation=revocation, reason="oops")


def test_a_connections_revoke_rate_is_a_positive_number():
    from django.core.exceptions import ValidationError

    from governance.idp import kinds

    config = {"issuer": AS_ISSUER, "client_id": "console"}
    assert kinds.validate_config("oauth", {**config, "revoke_rate_per_second": "20"})
    with pytest.raises(ValidationError, match="revoke_rate_per_second"):
        kinds.validate_config("oauth", {**config, "revoke_rate_per_second": "0"})


def test_what_stays_active_behind_a_block_is_counted():
    from governance.containment import queries

    rows = inventory(AS_ISSUER, ["g-1", "g-2"])
    assert queries.still_active(client=rows.agent) | {"issuers": []} == {
        "grants": 2,
        "identities": 1,
        "clients": 1,
        "refresh_tokens": 0,
        "issuers": [],
    }
    assert queries.still_active(client=rows.agent)["issuers"] == [AS_ISSUER]
