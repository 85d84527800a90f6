"""The grant ledger in the console and API: who holds a scope, by IdP, type, unused, expiring
and vanished (one declaration for page, API and OpenAPI), the CSV export for Auditors, the
identity's agents, the client's subjects and the residual validity of self-contained tokens."""

import csv
import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from inventory.models import Grant, Identity
from tests.ui_factories import client, grant, identity, server

pytestmark = pytest.mark.django_db
ENTRA = "https://login.microsoftonline.com/tenant/v2.0"


@pytest.fixture
def ledger():
    """Alice's agents hold billing scopes from two IdPs; one grant vanished, one unused."""
    now = timezone.now()
    alice = identity("00u-alice", display_name="Alice Abbott")
    bob = identity("00u-bob", display_name="Bob Bell")
    triage = identity("agent-triage", display_name="agent: triage", kind="agent")
    Identity.objects.filter(pk=triage.pk).update(sponsor=alice)  # as an Entra sync sets it
    cursor = client("https://cursor.example/mcp.json", name="Cursor", owner=bob)
    billing = server("io.github.acme/billing")
    admin = grant(
        "g-admin",
        client=cursor,
        subject=alice,
        server=billing,
        scopes=["billing:admin", "billing:read"],
        last_used_at=now - timedelta(days=1),
    )
    reader = grant(
        "g-read",
        client=cursor,
        subject=bob,
        server=billing,
        issuer=ENTRA,
        grant_type="consent",
        scopes=["billing:admin2", "billing:read"],
        last_used_at=now - timedelta(days=40),
    )
    gone = grant(
        "g-gone",
        client=cursor,
        subject=alice,
        scopes=['=HYPERLINK("http://evil")'],
    )
    # The fields an IdP sync sets: a vanished record, a self-contained token's `exp`.
    Grant.objects.filter(pk=gone.pk).update(vanished_at=now - timedelta(days=2))
    Grant.objects.filter(pk=admin.pk).update(access_token_expires_at=now + timedelta(hours=1))
    return {
        "alice": alice,
        "bob": bob,
        "triage": triage,
        "cursor": cursor,
        "admin": admin,
        "reader": reader,
        "gone": gone,
    }


def api_ids(api, query: str) -> set[str]:
    response = api.get(f"/api/v1/grants/?{query}")
    assert response.status_code == 200, response.content
    return {row["external_id"] for row in response.json()["results"]}


def test_who_holds_a_scope_is_an_exact_match_on_the_page_and_the_api(viewer_client, ledger):
    assert api_ids(viewer_client, "scope=billing:admin") == {"g-admin"}
    page = viewer_client.get("/inventory/grants/?scope=billing:admin").content.decode()
    assert "g-admin" in page and "g-read" not in page
    assert api_ids(viewer_client, "scope=billing:read") == {"g-admin", "g-read"}
    assert api_ids(viewer_client, "scope=billing") == set()


def test_the_grants_filter_by_idp_type_unused_days_and_vanished(viewer_client, ledger):
    assert api_ids(viewer_client, f"issuer={ENTRA}") == {"g-read"}
    assert api_ids(viewer_client, "grant_type=consent") == {"g-read"}
    assert api_ids(viewer_client, "unused_days=30") == {"g-read", "g-gone"}  # never used too
    assert api_ids(viewer_client, "vanished=true") == {"g-gone"}
    assert api_ids(viewer_client, "vanished=false") == {"g-admin", "g-read"}


@pytest.mark.parametrize(
    ("query", "param"),
    [
        ("unused_days=0", "unused_days"),
        ("unused_days=ten", "unused_days"),
        ("vanished=maybe", "vanished"),
    ],
)
def test_a_bad_ledger_filter_is_a_message_on_the_page_and_a_400_on_the_api(
    viewer_client, ledger, query, param
):
    response = viewer_client.get(f"/api/v1/grants/?{query}")
    assert response.status_code == 400 and param in response.json()
    page = viewer_client.get(f"/inventory/grants/?{query}")
    assert page.status_code == 400
    assert f"Invalid filter — {param}" in page.content.decode()


def test_the_openapi_schema_declares_the_ledger_filters(tmp_path):
    out = tmp_path / "schema.yaml"
    call_command("spectacular", "--file", str(out), "--fail-on-warn", "--validate")
    schema = out.read_text()
    for name in ("scope", "unused_days", "vanished", "expiring", "issuer", "grant_type"):
        assert f"name: {name}" in schema, name


def read_csv(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode("utf-8")
    assert body.startswith("\ufeff")  # a spreadsheet reads it as UTF-8
    return list(csv.reader(io.StringIO(body[1:])))


def test_auditors_export_the_filtered_grants_as_spreadsheet_safe_csv(auditor_client, ledger):
    response = auditor_client.get(
        reverse("inventory:grant_export") + "?subject=" + str(ledger["alice"].pk)
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    header, *rows = read_csv(response)
    by_id = {row[header.index("external_id")]: dict(zip(header, row)) for row in rows}
    assert set(by_id) == {"g-admin", "g-gone"}
    assert by_id["g-admin"]["scopes"] == "billing:admin billing:read"
    assert by_id["g-gone"]["scopes"] == '\'=HYPERLINK("http://evil")'  # shown, never evaluated
    assert by_id["g-admin"]["subject_name"] == "Alice Abbott"


def test_viewers_may_not_export_the_ledger_nor_see_the_link(viewer_client, ledger):
    assert viewer_client.get(reverse("inventory:grant_export")).status_code == 403
    assert "Export these grants" not in viewer_client.get("/inventory/grants/").content.decode()


def test_the_export_link_keeps_the_filters_and_a_bad_filter_is_a_400(auditor_client, ledger):
    page = auditor_client.get("/inventory/grants/?scope=x&page=1").content.decode()
    assert 'href="/inventory/grants/export.csv?scope=x"' in page
    bad = auditor_client.get(reverse("inventory:grant_export") + "?unused_days=-1")
    assert bad.status_code == 400 and "unused_days" in bad.content.decode()


def test_an_identity_page_shows_the_agents_acting_for_it_and_those_it_answers_for(
    viewer_client, ledger
):
    page = viewer_client.get(
        reverse("inventory:identity_detail", args=[ledger["alice"].pk])
    ).content.decode()
    assert "Agents acting for Alice Abbott" in page
    assert "Cursor" in page and "io.github.acme/billing" in page and "billing:admin" in page
    assert "https://acme.okta.example/oauth2/default" in page  # from which IdP
    assert "whatever is revoked" in page  # the residual validity of a self-contained token
    assert "vanished" in page
    assert "agent: triage" in page and "sponsor" in page


def test_an_identity_no_agent_acts_for_says_what_would_fill_the_list(viewer_client, ledger):
    page = viewer_client.get(
        reverse("inventory:identity_detail", args=[ledger["triage"].pk])
    ).content.decode()
    assert "No agent acts for agent: triage yet" in page and "IdP sync" in page


def test_a_client_page_shows_whom_it_acts_for_and_its_owner(viewer_client, ledger):
    page = viewer_client.get(
        reverse("inventory:client_detail", args=[ledger["cursor"].pk])
    ).content.decode()
    assert "Acts for" in page and "Alice Abbott" in page and ENTRA in page
    assert "Bob Bell" in page  # the owner (and a subject)


def test_a_grant_page_shows_what_revocation_cannot_cut(viewer_client, ledger):
    page = viewer_client.get(
        reverse("inventory:grant_detail", args=[ledger["admin"].pk])
    ).content.decode()
    assert "still valid until" in page and "whatever is revoked" in page


def test_an_empty_ledger_says_what_fills_it(viewer_client):
    page = viewer_client.get("/inventory/grants/").content.decode()
    assert "An IdP sync, or audit events that show a delegation" in page
