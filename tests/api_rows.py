"""One row behind every API list and every detail page, so each request really reads the table
(DRF skips the query of an empty list: `?limit=2**63` only failed once a list had a row)."""

from __future__ import annotations

from django.contrib.auth.models import User

from audit.models import AuditEvent, EventSource
from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from governance.access.models import AdminAction
from governance.containment.models import Revocation, RevocationStep
from governance.idp.models import IdpConnection, IdpSync
from governance.reviews.models import Campaign, ReviewItem
from inventory.models import (
    AuthorizationServer,
    ClientDocument,
    Crawl,
    FetchRecord,
    Flag,
    Registry,
    ServerChange,
    UrlElicitation,
)
from tests.ingest_helpers import make_event
from tests.ui_factories import T0, small_inventory

API_LISTS = [
    "identities",
    "clients",
    "servers",
    "grants",
    "tasks",
    "flags",
    "registries",
    "crawls",
    "server-changes",
    "fetch-records",
    "client-documents",
    "authorization-servers",
    "audit-events",
    "event-sources",
    "idp-connections",
    "url-elicitations",
    "idp-syncs",
    "revocations",
    "review-campaigns",
    "review-items",
]


def one_of_everything() -> dict:
    """Rows for every list; returns the objects by name (their pks fill URL patterns)."""
    inv = small_inventory()
    registry = Registry.objects.create(name="corp", base_url="https://r.corp.example")
    crawl = Crawl.objects.create(
        kind=Crawl.Kind.REGISTRY, target=registry.base_url, registry=registry, queued_at=T0
    )
    ServerChange.objects.create(
        server=inv["crm"], field=ServerChange.Field.STATUS, new_value="deprecated", observed_at=T0
    )
    FetchRecord.objects.create(url="https://cursor.example/mcp.json", purpose="cimd", at=T0)
    document = ClientDocument.objects.create(
        client=inv["cursor"], sha256="0" * 64, content={}, first_fetched_at=T0, last_fetched_at=T0
    )
    auth = AuthorizationServer.objects.create(
        issuer="https://auth.example", first_seen=T0, last_seen=T0
    )
    Flag.objects.create(
        kind="test",
        object_type="inventory.client",
        object_id=str(inv["cursor"].pk),
        summary="a flag",
        raised_at=T0,
        last_raised_at=T0,
    )
    source, _ = create_source(name="gw-rows")
    elicitation = make_event(
        method="elicitation/create",
        attributes={"params": {"mode": "url", "elicitationId": "e-1", "url": "https://x.example"}},
    )
    ingest_events(source=source, events=[make_event(tool="t0"), make_event(tool="t1"), elicitation])
    if not AdminAction.objects.exists():
        create_source(name="gw-recorded", actor=User.objects.create_user("recorder"))
    idp = IdpConnection.objects.create(
        name="corp-idp", kind="oauth", config={"issuer": "https://auth.example", "client_id": "c"}
    )
    idp.issuers.create(issuer="https://auth.example")
    idp_sync = IdpSync.objects.create(connection=idp, queued_at=T0, status="succeeded")
    revocation = Revocation.objects.create(
        action="grant",
        target_key=f"grant:{inv['grant'].pk}",
        reason="rows",
        grant=inv["grant"],
        queued_at=T0,
        status="done",
        outcome="done",
    )
    RevocationStep.objects.create(
        revocation=revocation, position=1, kind="call", operation="revoke", description="Revoke"
    )
    # A closed campaign (its frozen record downloadable) with one decided item.
    review_campaign = Campaign.objects.create(
        name="rows review",
        due_at=T0,
        status="closed",
        closed_at=T0,
        record={"items": []},
        record_sha256="0" * 64,
    )
    review_item = ReviewItem.objects.create(
        campaign=review_campaign,
        grant=inv["grant"],
        context={"scopes": ["crm:read"]},
        recommendation="keep",
    )
    return {
        **inv,
        "review_campaign": review_campaign,
        "review_item": review_item,
        "idp": idp,
        "idp_sync": idp_sync,
        "revocation": revocation,
        "registry": registry,
        "crawl": crawl,
        "document": document,
        "auth": auth,
        "source": EventSource.objects.get(name="gw-rows"),
        "event": AuditEvent.objects.first(),
        "action": AdminAction.objects.first(),
        "elicitation": UrlElicitation.objects.get(),
    }
