"""The demo shows findings of several kinds as soon as it is seeded, before the first beat."""

import pytest
from django.core.management import call_command

from inventory.models import Finding

pytestmark = pytest.mark.django_db


def test_a_fresh_demo_has_findings_of_the_inventory_rules():
    call_command("seed_demo", "--scale", "0.2")
    kinds = set(Finding.objects.open().values_list("kind", flat=True))
    assert {
        "identity.inactive_with_grants",
        "client.blocked_with_grants",
        "grant.dormant",
        "grant.broad_scopes",
        "grant.client_credentials_user_scopes",
        "task.running_after_revocation",
        "task.past_ttl",
    } <= kinds
