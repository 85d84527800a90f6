"""Small inventories for the UI tests, built through the write services."""

from datetime import UTC, datetime, timedelta

from inventory.services import entities

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
OKTA = "https://acme.okta.example/oauth2/default"


def identity(subject="00u-alice", **kw):
    return entities.upsert_identity(
        issuer=kw.pop("issuer", OKTA), subject=subject, at=kw.pop("at", T0), **kw
    )[0]


def client(client_id="https://app.example/client.json", **kw):
    return entities.upsert_client(client_id=client_id, at=kw.pop("at", T0), **kw)[0]


def server(name="io.github.acme/crm", **kw):
    return entities.upsert_server(name=name, at=kw.pop("at", T0), **kw)[0]


def grant(external_id="g-1", *, client, **kw):
    kw.setdefault("issued_at", T0)
    return entities.upsert_grant(
        issuer=kw.pop("issuer", OKTA),
        external_id=external_id,
        client=client,
        at=kw.pop("at", T0),
        **kw,
    )[0]


def task(task_id="t-1", *, server, **kw):
    return entities.upsert_task(task_id=task_id, server=server, at=kw.pop("at", T0), **kw)[0]


def small_inventory():
    """Two identities, two clients, a server with a non-conforming tool, grants and a task."""
    alice = identity("00u-alice", display_name="Alice Abbott", email="alice@acme.example")
    bot = identity("00u-bot", display_name="agent: triage", kind="agent", owner=alice)
    cursor = client("https://cursor.example/mcp.json", name="Cursor")
    m2m = client("svc-etl", name="ETL loader", registration="client_credentials")
    crm = server(
        "io.github.acme/crm",
        title="CRM",
        remotes=[{"url": "https://mcp.acme.example/crm/mcp"}],
        tools=[{"name": "search_accounts"}, {"name": "close ticket"}],
    )
    g_alice = grant(
        "g-alice",
        client=cursor,
        subject=alice,
        server=crm,
        scopes=["crm:read"],
        status="active",
        expires_at=T0 + timedelta(days=30),
    )
    grant(
        "g-bot",
        client=cursor,
        subject=bot,
        server=crm,
        status="revoked",
        revoked_at=T0 + timedelta(days=1),
        revoked_by="secops",
        revoke_reason="offboarded",
    )
    grant(
        "g-m2m",
        client=m2m,
        server=crm,
        grant_type="client_credentials",
        status="expired",
        expires_at=T0 + timedelta(hours=1),
    )
    t = task(
        "t-1", server=crm, client=cursor, identity=alice, grant=g_alice, tool_name="search_accounts"
    )
    return {
        "alice": alice,
        "bot": bot,
        "cursor": cursor,
        "m2m": m2m,
        "crm": crm,
        "grant": g_alice,
        "task": t,
    }
