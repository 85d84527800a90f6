"""Blocking is a label, not a cut-off: the Block confirmation says what stays active and offers
the kill switch; a blocked client, and a disabled identity, with active grants carry a banner
linking to the action that revokes them."""

from __future__ import annotations

import pytest
from django.urls import reverse

from inventory.models import Client, Identity
from tests.ui_factories import small_inventory

pytestmark = pytest.mark.django_db


@pytest.fixture
def inv(db):
    return small_inventory()


def _new(action: str, **ids) -> str:
    query = "&".join(f"{k}={v}" for k, v in ids.items())
    return f"{reverse('containment:revocation_create', args=[action])}?{query}"


def test_block_warns_what_stays_active_and_offers_the_kill_switch(admin_client_, inv):
    cursor = inv["cursor"]
    html = admin_client_.post(
        f"/inventory/clients/{cursor.pk}/review/", {"status": "blocked"}
    ).content.decode()
    assert "it revokes nothing" in html
    assert "1 active grant and 1 running task stay active." in html
    assert "Use the kill switch instead…" in html and _new("client", client=cursor.pk) in html
    assert Client.objects.get(pk=cursor.pk).review_status != "blocked"  # not yet confirmed


def test_a_blocked_client_with_active_grants_carries_a_kill_switch_banner(admin_client_, inv):
    Client.objects.filter(pk=inv["cursor"].pk).update(review_status="blocked")
    html = admin_client_.get(f"/inventory/clients/{inv['cursor'].pk}/").content.decode()
    assert "Blocked in the console, but 1 active grant and 1 running task stay active" in html
    assert f'The <a href="{_new("client", client=inv["cursor"].pk)}">kill switch</a>' in html


def test_a_disabled_identity_with_active_grants_carries_a_cut_off_link(admin_client_, inv):
    Identity.objects.filter(pk=inv["alice"].pk).update(status="disabled")
    html = admin_client_.get(f"/inventory/identities/{inv['alice'].pk}/").content.decode()
    assert "still holds 1 active grant" in html
    assert (
        f'<a href="{_new("identity", identity=inv["alice"].pk)}">Cut off everywhere…</a> revokes'
        in html
    )
