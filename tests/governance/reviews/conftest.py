"""Fixtures for the access-review tests: console users who own things, and an inventory whose
grants differ in what a campaign selects and recommends (last used, identity status, scopes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from governance.access.roles import VIEWER
from governance.reviews import services
from inventory.models import Client, Grant, Identity
from tests import ui_factories as f

ISSUER = "https://idp.acme.example"


def console_user(username: str, email: str = "", role: str | None = VIEWER) -> User:
    user = User.objects.create_user(username=username, email=email, password="x-correct-horse")
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


@dataclass
class Estate:
    owner: User  # owns the Cursor client, alice's manager
    other: User  # a named reviewer
    alice: Identity
    bob: Identity
    cursor: Client
    etl: Client
    fresh: Grant  # alice → cursor, used yesterday, crm:read crm:write
    idle: Grant  # alice → cursor, last used 120 days ago
    noted: Grant  # the ETL client itself (M2M), last used 45 days ago
    disabled: Grant  # bob (disabled) → cursor, used yesterday


@pytest.fixture
def estate(db) -> Estate:
    now = timezone.now()
    owner = console_user("olga-owner", "Olga@Acme.example")
    other = console_user("nico-named", "nico@acme.example")
    olga = f.identity("olga", issuer=ISSUER, display_name="Olga", email="olga@acme.example")
    alice = f.identity("alice", issuer=ISSUER, display_name="Alice", email="alice@acme.example")
    Identity.objects.filter(pk=alice.pk).update(manager=olga)
    bob = f.identity("bob", issuer=ISSUER, display_name="Bob", status="disabled")
    cursor = f.client("cursor", name="Cursor", issuer=ISSUER, owner=olga)
    etl = f.client("etl", name="ETL", issuer=ISSUER)
    common = {"issuer": ISSUER, "status": "active", "issued_at": now - timedelta(days=200)}
    fresh = f.grant(
        "g-fresh",
        client=cursor,
        subject=alice,
        scopes=["crm:read", "crm:write"],
        last_used_at=now - timedelta(days=1),
        **common,
    )
    idle = f.grant(
        "g-idle",
        client=cursor,
        subject=alice,
        scopes=["crm:read"],
        last_used_at=now - timedelta(days=120),
        **common,
    )
    noted = f.grant(
        "g-noted",
        client=etl,
        scopes=["billing:read"],
        grant_type="client_credentials",
        last_used_at=now - timedelta(days=45),
        **common,
    )
    disabled = f.grant(
        "g-disabled",
        client=cursor,
        subject=bob,
        scopes=["crm:read"],
        last_used_at=now - timedelta(days=1),
        **common,
    )
    f.grant("g-gone", client=etl, issuer=ISSUER, status="revoked")
    return Estate(owner, other, alice, bob, cursor, etl, fresh, idle, noted, disabled)


def open_named(admin, reviewers, **kw):
    """A campaign over every active grant, reviewed by `reviewers` in turn."""
    kw.setdefault("scope", {})
    return services.open_campaign(
        actor=admin,
        name=kw.pop("name", "Q4 review"),
        reviewer_rule=kw.pop("reviewer_rule", "named"),
        reviewers=reviewers,
        due_at=kw.pop("due_at", timezone.now() + timedelta(days=14)),
        **kw,
    )
