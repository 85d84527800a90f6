"""Access-review campaigns: which grants a campaign takes, who reviews them, what the console
recommends, the justification rule, bulk decisions, and closing with nothing left to revoke."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from governance.access.models import AdminAction
from governance.containment.models import Revocation
from governance.idp.models import IdpConnection, IdpIssuer
from governance.reviews import queries, record, services
from governance.reviews.models import Campaign, ReviewItem
from inventory.models import Finding
from tests import ui_factories as f
from tests.governance.reviews.conftest import ISSUER, console_user, open_named

pytestmark = pytest.mark.django_db


def items_by_grant(campaign) -> dict[str, ReviewItem]:
    return {i.context["grant"]["external_id"]: i for i in campaign.items.all()}


def test_a_campaign_takes_the_active_grants_its_scope_selects(estate, admin_user):
    connection = IdpConnection.objects.create(name="acme", kind="oauth")
    IdpIssuer.objects.create(connection=connection, issuer=ISSUER)
    f.grant("g-elsewhere", client=estate.cursor, issuer="https://other.example", status="active")

    everything = open_named(admin_user, [estate.other])
    at_acme = open_named(admin_user, [estate.other], scope={"idp_connection_ids": [connection.pk]})
    cursor_write = open_named(
        admin_user,
        [estate.other],
        scope={"client_ids": [estate.cursor.pk], "scopes": ["crm:write", "nope"]},
    )
    idle_m2m = open_named(
        admin_user,
        [estate.other],
        scope={"grant_types": ["client_credentials"], "unused_days": 30},
    )

    assert set(items_by_grant(everything)) == {
        "g-fresh", "g-idle", "g-noted", "g-disabled", "g-elsewhere"
    }  # fmt: skip
    assert set(items_by_grant(at_acme)) == {"g-fresh", "g-idle", "g-noted", "g-disabled"}
    assert set(items_by_grant(cursor_write)) == {"g-fresh"}
    assert set(items_by_grant(idle_m2m)) == {"g-noted"}


def test_a_scope_that_matches_nothing_or_names_a_missing_id_is_refused_naming_the_field(
    estate, admin_user
):
    with pytest.raises(ValidationError) as nothing:
        open_named(admin_user, [estate.other], scope={"scopes": ["no-such-scope"]})
    with pytest.raises(ValidationError) as missing:
        open_named(admin_user, [estate.other], scope={"client_ids": [999999]})
    with pytest.raises(ValidationError) as bad_type:
        open_named(admin_user, [estate.other], scope={"grant_types": ["magic"]})
    with pytest.raises(ValidationError) as past:
        open_named(admin_user, [estate.other], due_at=timezone.now() - timedelta(days=1))

    assert "scope" in nothing.value.message_dict
    assert missing.value.message_dict == {"client_ids": ["no client has id 999999"]}
    assert "grant_types" in bad_type.value.message_dict
    assert "due_at" in past.value.message_dict
    assert not Campaign.objects.exists()


def test_the_recommendation_is_revoke_when_unused_90_days_or_the_identity_is_disabled(
    estate, admin_user
):
    campaign = open_named(admin_user, [estate.other])
    items = items_by_grant(campaign)

    assert items["g-fresh"].recommendation == "keep"
    assert items["g-fresh"].recommendation_reason == "Used 1 day ago."
    assert items["g-idle"].recommendation == "revoke"
    assert items["g-idle"].recommendation_reason == "Not used for 120 days (≥ 90)."
    assert items["g-disabled"].recommendation == "revoke"
    assert "disabled" in items["g-disabled"].recommendation_reason
    # 30 days: kept, with a note to look twice.
    assert items["g-noted"].recommendation == "keep"
    assert "45 days (≥ 30)" in items["g-noted"].recommendation_reason


def test_the_context_snapshot_holds_who_what_and_the_open_findings(estate, admin_user):
    now = timezone.now()
    for kind, object_type, object_id, status in [
        ("client.unreviewed", "inventory.client", estate.cursor.pk, "open"),
        ("identity.disabled_with_grants", "inventory.identity", estate.bob.pk, "open"),
        ("grant.old", "inventory.grant", estate.disabled.pk, "resolved"),
    ]:
        Finding.objects.create(
            kind=kind,
            object_type=object_type,
            object_id=str(object_id),
            summary=kind,
            raised_at=now,
            last_raised_at=now,
            status=status,
            resolved_at=now if status == "resolved" else None,
            resolution="manual" if status == "resolved" else "",
        )

    context = items_by_grant(open_named(admin_user, [estate.other]))["g-disabled"].context

    assert context["identity"] == {
        "id": estate.bob.pk,
        "name": "Bob",
        "kind": "human",
        "status": "disabled",
        "email": "",
    }
    assert context["client"]["name"] == "Cursor" and context["scopes"] == ["crm:read"]
    assert context["grant_type"] == "authorization_code" and context["unused_days"] == 1
    assert context["findings"] == {
        "count": 2,
        "kinds": ["client.unreviewed", "identity.disabled_with_grants"],
    }


def test_owners_who_are_console_users_review_and_the_rest_go_to_the_fallback(estate, admin_user):
    fallback = console_user("fay-fallback", "fay@acme.example")
    by_client_owner = open_named(
        admin_user, [], reviewer_rule="client_owner", fallback_reviewer=fallback
    )
    by_identity_owner = open_named(
        admin_user, [], reviewer_rule="identity_owner", fallback_reviewer=fallback
    )

    def reviewers(campaign):
        return {k: i.reviewer.username for k, i in items_by_grant(campaign).items()}

    # Cursor's owner is Olga, a console user by email (case aside): she gets Cursor's grants.
    assert reviewers(by_client_owner) == {
        "g-fresh": "olga-owner",
        "g-idle": "olga-owner",
        "g-disabled": "olga-owner",
        "g-noted": "fay-fallback",
    }
    # Alice's manager is Olga; Bob has nobody.
    assert reviewers(by_identity_owner) == {
        "g-fresh": "olga-owner",
        "g-idle": "olga-owner",
        "g-disabled": "fay-fallback",
        "g-noted": "fay-fallback",
    }


def test_owner_rules_without_a_fallback_are_refused_when_a_grant_has_no_owner(estate, admin_user):
    with pytest.raises(ValidationError) as refused:
        open_named(admin_user, [], reviewer_rule="client_owner")
    assert "fallback_reviewer" in refused.value.message_dict


def test_named_reviewers_share_the_items_in_turn(estate, admin_user):
    campaign = open_named(admin_user, [estate.owner, estate.other])
    counts = {r["reviewer"]: r["total"] for r in queries.reviewer_progress(campaign)}
    assert counts == {"olga-owner": 2, "nico-named": 2}


def test_keeping_against_a_revoke_recommendation_needs_a_justification(estate, admin_user):
    campaign = open_named(admin_user, [estate.other])
    idle = items_by_grant(campaign)["g-idle"]

    with pytest.raises(ValidationError) as refused:
        services.decide(item=idle, by=estate.other, decision="keep")
    assert list(refused.value.message_dict) == ["justification"]
    # The database holds the rule too.
    with pytest.raises(IntegrityError), transaction.atomic():
        ReviewItem.objects.filter(pk=idle.pk).update(decision="keep", decided_at=timezone.now())

    services.decide(item=idle, by=estate.other, decision="keep", justification="quarterly job")
    idle.refresh_from_db()
    assert (idle.decision, idle.justification, idle.decided_by) == (
        "keep",
        "quarterly job",
        estate.other,
    )
    assert AdminAction.objects.filter(action="review_item.decided", object_id=str(idle.pk)).exists()


def test_only_the_reviewer_or_an_admin_decides(estate, admin_user):
    campaign = open_named(admin_user, [estate.other])
    fresh = items_by_grant(campaign)["g-fresh"]

    with pytest.raises(PermissionDenied):
        services.decide(item=fresh, by=estate.owner, decision="revoke")
    services.decide(item=fresh, by=admin_user, decision="revoke")
    assert ReviewItem.objects.get(pk=fresh.pk).decided_by == admin_user


def test_reduce_keeps_a_strict_subset_of_the_grants_scopes(estate, admin_user):
    campaign = open_named(admin_user, [estate.other])
    fresh = items_by_grant(campaign)["g-fresh"]

    for keep, message in [
        ([], "name the scopes"),
        (["crm:admin"], "'crm:admin' is not a scope this grant holds"),
        (["crm:read", "crm:write"], "keeping every scope is a keep"),
    ]:
        with pytest.raises(ValidationError) as refused:
            services.decide(item=fresh, by=estate.other, decision="reduce", keep_scopes=keep)
        assert message in refused.value.message_dict["keep_scopes"][0]

    services.decide(item=fresh, by=estate.other, decision="reduce", keep_scopes=["crm:read"])
    assert ReviewItem.objects.get(pk=fresh.pk).keep_scopes == ["crm:read"]


def test_bulk_decisions_apply_to_the_filtered_set_the_reviewer_may_decide(estate, admin_user):
    campaign = open_named(admin_user, [estate.owner, estate.other])
    mine = queries.review_queue({"recommendation": "revoke"}, reviewer=estate.owner)

    with pytest.raises(ValidationError) as refused:
        services.bulk_decide(items=mine, by=estate.owner, decision="keep")
    assert "justification" in refused.value.message_dict

    everything = queries.review_queue({"campaign": str(campaign.pk)})
    decided = services.bulk_decide(items=everything, by=estate.owner, decision="revoke")

    # Only her own items: the other reviewer's are untouched.
    assert decided == 2
    assert queries.decision_counts(campaign) | {"percent": 0} == {
        "total": 4,
        "pending": 2,
        "decided": 2,
        "keep": 0,
        "revoke": 2,
        "reduce": 0,
        "percent": 0,
    }
    assert AdminAction.objects.filter(action="review_item.bulk_decided").count() == 1


def test_closing_with_nothing_to_revoke_freezes_the_record_at_once(estate, admin_user):
    campaign = open_named(admin_user, [estate.other])
    items = items_by_grant(campaign)
    services.decide(item=items["g-fresh"], by=estate.other, decision="keep")

    services.close_campaign(campaign=campaign, actor=admin_user)
    assert services.finish_closing(campaign.pk)
    campaign.refresh_from_db()

    assert campaign.status == "closed" and campaign.closed_at is not None
    assert record.verify(campaign)
    frozen = {i["context"]["grant"]["external_id"]: i for i in campaign.record["items"]}
    assert frozen["g-fresh"]["decision"] == "keep" and frozen["g-fresh"]["outcome"] == "Kept."
    assert frozen["g-idle"]["decision"] == "pending"
    assert frozen["g-fresh"]["decided_by"] == "nico-named"
    # Nothing changes after: decisions are refused, closing again too.
    with pytest.raises(ValidationError):
        services.decide(item=items["g-idle"], by=estate.other, decision="revoke")
    with pytest.raises(ValidationError):
        services.close_campaign(campaign=campaign, actor=admin_user)
    # A changed record no longer matches its digest.
    campaign.record["items"][0]["decision"] = "revoke"
    assert not record.verify(campaign)


def test_a_revoke_no_connection_can_carry_out_says_why_in_the_record(estate, admin_user):
    campaign = open_named(admin_user, [estate.other])
    idle = items_by_grant(campaign)["g-idle"]
    services.decide(item=idle, by=estate.other, decision="revoke")

    services.close_campaign(campaign=campaign, actor=admin_user)
    assert services.finish_closing(campaign.pk)

    frozen = {i["id"]: i for i in Campaign.objects.get(pk=campaign.pk).record["items"]}
    assert frozen[idle.pk]["revocation"] is None
    assert frozen[idle.pk]["outcome"].startswith("Not revoked: ")


def test_a_closing_campaign_waits_for_its_revocations_and_the_sweeper_closes_it(estate, admin_user):
    campaign = open_named(admin_user, [estate.other])
    idle = items_by_grant(campaign)["g-idle"]
    services.decide(item=idle, by=estate.other, decision="revoke")
    Campaign.objects.filter(pk=campaign.pk).update(status="closing")
    running = Revocation.objects.create(
        action="grant",
        target_key=f"grant:{estate.idle.pk}",
        reason="review",
        grant=estate.idle,
        queued_at=timezone.now(),
        status="running",
    )
    ReviewItem.objects.filter(pk=idle.pk).update(revocation=running)

    assert services.finish_closing_all() == []
    assert Campaign.objects.get(pk=campaign.pk).status == "closing"

    Revocation.objects.filter(pk=running.pk).update(
        status="done", outcome="done", proof="verified", finished_at=timezone.now()
    )
    assert services.finish_closing_all() == [campaign.pk]
    item = ReviewItem.objects.get(pk=idle.pk)
    assert item.outcome == f"Revoked by revocation #{running.pk}: done, proof verified."


def test_a_closing_campaign_is_looked_at_every_2_s_for_a_minute_then_every_30(monkeypatch):
    """Revocations stuck on an IdP that is down must not keep a worker polling every 2 s."""
    from governance.reviews import tasks

    monkeypatch.setattr(services, "finish_closing", lambda campaign_id: False)  # still running
    countdowns = []

    def retry(countdown):
        countdowns.append(countdown)
        return RuntimeError("retried")

    monkeypatch.setattr(tasks.finish_closing, "retry", retry)
    for retries in (0, 29, 30, 500):
        tasks.finish_closing.push_request(retries=retries)
        try:
            with pytest.raises(RuntimeError, match="retried"):
                tasks.finish_closing.run(7)
        finally:
            tasks.finish_closing.pop_request()
    assert countdowns == [2, 2, 30, 30]
