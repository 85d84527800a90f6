"""The containment pages as an Admin and a Viewer use them: the entry points on the pages of what
an action acts on, the confirm page (the dry run, the steps, a required reason), the list and the
undo. (A revocation's progress: test_progress.py; Block's warnings: test_block_warnings.py.)"""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils.html import escape

from governance.containment import plan
from governance.containment.forms import REASON_REQUIRED
from governance.containment.models import Revocation
from inventory.models import Grant, Task
from tests.governance.containment.conftest import oauth_connection
from tests.governance.containment.rows import revocation_row, step_row
from tests.ui_factories import OKTA, T0, grant, identity, small_inventory

pytestmark = pytest.mark.django_db

LIST = "/governance/revocations/"


@pytest.fixture
def inv(db):
    """Two identities, two clients, a server, three grants (one active) and a running task."""
    return small_inventory()


def _new(action: str, **ids) -> str:
    query = "&".join(f"{k}={v}" for k, v in ids.items())
    return f"{reverse('containment:revocation_create', args=[action])}?{query}"


# --- entry points and roles ---------------------------------------------------------------------


def test_an_admin_finds_each_action_on_the_page_of_what_it_acts_on(admin_client_, inv):
    grant_page = admin_client_.get(f"/inventory/grants/{inv['grant'].pk}/").content.decode()
    assert "Revoke grant…" in grant_page
    assert _new("grant", grant=inv["grant"].pk) in grant_page
    identity_page = admin_client_.get(f"/inventory/identities/{inv['alice'].pk}/").content.decode()
    assert "Cut off everywhere…" in identity_page
    assert "Revoke all for this client…" in identity_page
    assert (
        _new("identity_client", identity=inv["alice"].pk, client=inv["cursor"].pk).replace(
            "&", "&amp;"
        )
        in identity_page
    )
    client_page = admin_client_.get(f"/inventory/clients/{inv['cursor'].pk}/").content.decode()
    assert "Kill switch…" in client_page and _new("client", client=inv["cursor"].pk) in client_page
    assert "Revoke all for this identity…" in client_page  # alice holds an active grant
    grants = admin_client_.get("/inventory/grants/?status=active&sort=-issued_at").content.decode()
    assert "Revoke matching…" in grants
    assert f"{reverse('containment:revocation_create', args=['bulk'])}?status=active" in grants
    assert 'href="/governance/revocations/"' in grants  # the navigation item


def test_viewers_follow_revocations_but_see_no_button_and_may_not_start_one(viewer_client, inv):
    pages = [
        f"/inventory/grants/{inv['grant'].pk}/",
        f"/inventory/identities/{inv['alice'].pk}/",
        f"/inventory/clients/{inv['cursor'].pk}/",
        "/inventory/grants/",
    ]
    for url in pages:
        page = viewer_client.get(url).content.decode()
        assert "/governance/revocations/new/" not in page, url
    assert "Revocations</a>" in viewer_client.get("/").content.decode()
    confirm = _new("grant", grant=inv["grant"].pk)
    assert viewer_client.get(confirm).status_code == 403
    assert viewer_client.post(confirm, {"reason": "no"}).status_code == 403
    assert not Revocation.objects.exists()
    rev = revocation_row(grant=inv["grant"])
    assert viewer_client.get(f"{LIST}{rev.pk}/").status_code == 200
    assert viewer_client.post(f"{LIST}{rev.pk}/undo/", {"reason": "x"}).status_code == 403


def test_auditors_export_grants_but_see_no_revocation_button(auditor_client, inv):
    grants = auditor_client.get("/inventory/grants/?status=active").content.decode()
    assert "Export these grants as CSV" in grants and "Revoke matching…" not in grants
    client_page = auditor_client.get(f"/inventory/clients/{inv['cursor'].pk}/").content.decode()
    assert "Kill switch…" not in client_page
    assert auditor_client.get(_new("client", client=inv["cursor"].pk)).status_code == 403


def test_a_revoked_grant_offers_no_revoke_button(admin_client_, inv):
    revoked = Grant.objects.get(external_id="g-bot")
    assert (
        "Revoke grant…"
        not in admin_client_.get(f"/inventory/grants/{revoked.pk}/").content.decode()
    )


def test_grant_identity_and_client_pages_list_the_revocations_that_acted_on_them(
    viewer_client, inv
):
    bulk = revocation_row(action="bulk", grant_ids=[inv["grant"].pk], reason="unused 90 days")
    cut = revocation_row(action="identity", identity=inv["alice"], reason="left the company")
    kill = revocation_row(action="client", client=inv["cursor"], reason="vendor breach")
    for url, rev in (
        (f"/inventory/grants/{inv['grant'].pk}/", bulk),
        (f"/inventory/identities/{inv['alice'].pk}/", cut),
        (f"/inventory/clients/{inv['cursor'].pk}/", kill),
    ):
        page = viewer_client.get(url).content.decode()
        assert f'href="{LIST}{rev.pk}/">#{rev.pk}</a>' in page and rev.reason in page, url


def test_the_task_page_links_to_the_revocation_that_orphaned_it(viewer_client, inv):
    rev = revocation_row(action="identity", identity=inv["alice"])
    Task.objects.filter(pk=inv["task"].pk).update(
        orphaned_at=T0, orphaned_by_revocation=rev.pk, owner_action="needs_owner_action"
    )
    page = viewer_client.get(f"/inventory/tasks/{inv['task'].pk}/").content.decode()
    assert f'href="{LIST}{rev.pk}/">revocation #{rev.pk}</a>' in page
    assert "needs owner action: contact" in page and "Alice Abbott" in page


# --- the confirm page ---------------------------------------------------------------------------


@pytest.fixture
def okta_as(db):
    """An IdP connection (with a credential) answering for the inventory's issuer."""
    return oauth_connection(OKTA, name="acme-as")


def test_the_confirm_page_shows_the_plans_counts_steps_and_warnings(admin_client_, inv, okta_as):
    url = _new("identity", identity=inv["alice"].pk)
    page = admin_client_.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    expected = plan.plan_identity(inv["alice"])
    assert "dry run: nothing has been called yet" in html
    for count, noun in (
        (expected.grants, "grant"),
        (expected.tokens, "token"),
        (expected.sessions, "session"),
        (expected.tasks, "running task"),
    ):
        assert f'<span class="n">{count}</span>{noun}' in html, noun
    for warning in expected.warnings:
        assert warning.replace("'", "&#x27;").replace('"', "&quot;") in html
    for step in expected.steps:
        assert escape(step.description) in html
    assert 'name="reason"' in html and 'name="csrfmiddlewaretoken"' in html
    assert expected.runnable_calls and "Cut off everywhere</button>" in html


def test_confirming_without_a_reason_names_the_field_and_starts_nothing(
    admin_client_, inv, okta_as
):
    url = _new("grant", grant=inv["grant"].pk)
    answer = admin_client_.post(url, {"reason": "   "})
    html = answer.content.decode()
    assert answer.status_code == 400
    assert REASON_REQUIRED.replace("'", "&#x27;") in html
    assert not Revocation.objects.exists()


def test_confirming_starts_the_revocation_and_shows_its_progress(admin_client_, inv, okta_as):
    url = _new("identity", identity=inv["alice"].pk)
    answer = admin_client_.post(url, {"reason": "offboarded, HR-7"})
    rev = Revocation.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"{LIST}{rev.pk}/"
    assert rev.reason == "offboarded, HR-7" and rev.identity == inv["alice"]
    page = admin_client_.get(answer["Location"]).content.decode()
    assert "offboarded, HR-7" in page and "started" in page


def test_a_refused_token_value_is_named_and_never_echoed(admin_client_, inv, okta_as):
    url = _new("grant", grant=inv["grant"].pk)
    assert 'name="tokens"' in admin_client_.get(url).content.decode()
    answer = admin_client_.post(url, {"reason": "leaked", "tokens": "short-tok"})
    html = answer.content.decode()
    assert answer.status_code == 400
    assert "a token value is between 10 and 8000 characters" in html
    assert "short-tok" not in html and not Revocation.objects.exists()


def test_nothing_to_revoke_is_said_plainly_with_no_button(admin_client_, inv):
    lonely = identity("u-0", issuer="https://nowhere.example")
    page = admin_client_.get(_new("identity", identity=lonely.pk)).content.decode()
    assert "Nothing to revoke" in page
    assert "no IdP connection answers for the issuer" in page  # the reason, as a warning
    assert "Cut off everywhere</button>" not in page and 'name="reason"' not in page


def test_calls_skipped_for_one_reason_are_one_warning_not_one_line_each(admin_client_, inv):
    for n in range(3):
        grant(f"g-kill-{n}", client=inv["cursor"], subject=inv["alice"], status="active")
    html = admin_client_.get(_new("client", client=inv["cursor"].pk)).content.decode()
    why = f"no IdP connection answers for the issuer &#x27;{OKTA}&#x27;"
    assert f"<strong>6 calls will be skipped</strong>: {why}." in html
    assert html.count(why) == 1
    assert "<li>Revoke grant g-kill-2</li>" in html and "Nothing to revoke" in html


def test_a_bad_or_missing_target_is_a_400_naming_it_and_an_unknown_one_a_404(admin_client_, inv):
    missing = admin_client_.get(reverse("containment:revocation_create", args=["grant"]))
    assert (
        missing.status_code == 400 and "grant: required for this action" in missing.content.decode()
    )
    bad = admin_client_.get(_new("identity_client", identity="x", client=inv["cursor"].pk))
    assert (
        bad.status_code == 400
        and "identity: &#x27;x&#x27; is not a numeric id" in bad.content.decode()
    )
    assert admin_client_.get(_new("client", client=999999)).status_code == 404
    assert admin_client_.get(_new("everything", client=1)).status_code == 404


def test_bulk_without_a_filter_says_to_filter_the_grants_list_first(admin_client_, inv):
    answer = admin_client_.get(reverse("containment:revocation_create", args=["bulk"]))
    html = answer.content.decode()
    assert answer.status_code == 400
    assert "a bulk revocation needs at least one filter of the grants" in html
    assert "Revoke matching…" in html  # where to find it


def test_bulk_says_how_many_grants_matched_and_that_it_is_capped(admin_client_, inv, monkeypatch):
    for n in range(3):
        grant(f"g-bulk-{n}", client=inv["cursor"], subject=inv["alice"], status="active")
    monkeypatch.setattr(plan, "BULK_CAP", 2)
    html = admin_client_.get(
        _new("bulk", client=inv["cursor"].pk, status="active", page=2, sort="-issued_at")
    ).content.decode()
    assert "4 active grants match this filter; one bulk revocation acts on at most 2." in html
    assert "one bulk revocation acts on the first 2 (run it again for the rest)" in html
    assert '<span class="chip">client: ' in html and "page:" not in html


# --- list and undo ------------------------------------------------------------------------------


def test_the_empty_list_says_what_a_revocation_is_and_where_to_start_one(viewer_client):
    html = viewer_client.get(LIST).content.decode()
    assert "No revocations yet." in html
    assert "Kill switch" in html and "Revoke matching…" in html and "(Admins only)" in html


def test_the_list_filters_by_action_and_outcome_and_names_a_bad_filter(viewer_client, inv):
    revocation_row(action="grant", outcome="done", grant=inv["grant"], reason="first")
    revocation_row(action="client", outcome="partial", client=inv["cursor"], reason="second")
    assert "first" in viewer_client.get(LIST).content.decode()
    partial = viewer_client.get(LIST, {"outcome": "partial"}).content.decode()
    assert "second" in partial and "first" not in partial
    by_action = viewer_client.get(LIST, {"action": "grant"}).content.decode()
    assert "first" in by_action and "second" not in by_action
    bad = viewer_client.get(LIST, {"outcome": "maybe"})
    assert (
        bad.status_code == 400
        and "outcome: &#x27;maybe&#x27; is not one of" in bad.content.decode()
    )


def test_only_a_finished_kill_switch_offers_undo(admin_client_, inv):
    grant_rev = revocation_row(grant=inv["grant"])
    page = admin_client_.get(f"{LIST}{grant_rev.pk}/").content.decode()
    assert "Undo this kill switch" not in page
    refused = admin_client_.post(f"{LIST}{grant_rev.pk}/undo/", {"reason": "oops"}, follow=True)
    assert "a revoked grant, token or session cannot be given back" in refused.content.decode()
    kill = revocation_row(action="client", client=inv["cursor"])
    step_row(kill, 1, kind="local", operation="block_client", state="done")
    page = admin_client_.get(f"{LIST}{kill.pk}/").content.decode()
    assert f'href="{LIST}{kill.pk}/undo/">Undo this kill switch…</a>' in page


def test_undoing_a_kill_switch_asks_a_reason_then_starts_the_undo(admin_client_, inv):
    kill = revocation_row(action="client", client=inv["cursor"])
    step_row(kill, 1, kind="local", operation="block_client", state="done")
    url = f"{LIST}{kill.pk}/undo/"
    assert "Unblock Cursor" in admin_client_.get(url).content.decode()
    refused = admin_client_.post(url, {"reason": " "})
    assert refused.status_code == 400 and "Reason is required" in refused.content.decode()
    answer = admin_client_.post(url, {"reason": "false alarm"})
    undo = Revocation.objects.get(action="undo")
    assert answer.status_code == 302 and answer["Location"] == f"{LIST}{undo.pk}/"
    assert undo.undoes == kill and undo.reason == "false alarm"
    page = admin_client_.get(f"{LIST}{kill.pk}/").content.decode()
    assert "Undone by" in page and "Undo this kill switch" not in page
