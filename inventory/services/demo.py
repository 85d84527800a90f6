"""Demo deployment: a realistic, deterministic inventory built through the write services.

Everything derives from a seeded RNG and a time anchor stored on the first run
(`SiteSetting` "demo_anchor"), so running it again rewrites identical values: counts and
contents do not change. Identities and grants (hundreds/thousands) go through `bulk_upsert`
(the same ON CONFLICT upsert as the single-row services, one statement per chunk); clients,
servers and tasks go through the per-row services, and task histories through
`report_task_status`, only for tasks this run created.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from governance.access.models import SiteSetting
from inventory.models import (
    Client,
    Grant,
    Identity,
    Registry,
    SeenFrom,
    Server,
    ServerRemote,
    Task,
)
from inventory.services import entities
from inventory.services.demo_catalog import (
    AGENT_JOBS,
    CHAT_APPS,
    CLIENTS,
    FIRST_NAMES,
    IDPS,
    LAST_NAMES,
    REVOKE_REASONS,
    SERVERS,
    SERVICE_JOBS,
    TEAMS,
)
from inventory.services.registry import normalize_base_url

DEMO = SeenFrom.DEMO
CHUNK = 1000


@dataclass
class DemoSummary:
    identities: int
    clients: int
    servers: int
    grants: int
    tasks: int
    new_tasks: int


def demo_anchor() -> datetime:
    """The demo's "now": stored on the first run so later runs produce identical timestamps."""
    anchor = timezone.now().replace(minute=0, second=0, microsecond=0)
    setting, _ = SiteSetting.objects.get_or_create(
        key="demo_anchor", defaults={"value": anchor.isoformat()}
    )
    return datetime.fromisoformat(setting.value)


def _n(base: int, scale: float) -> int:
    return max(1, round(base * scale))


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _subject(rng: random.Random, style: str) -> str:
    """An external id shaped like the IdP's own (Okta 00u…, Entra GUID, Auth0 auth0|…)."""
    if style == "okta":
        return "00u" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz0123456789", k=17))
    if style == "auth0":
        return "auth0|" + "".join(rng.choices("0123456789abcdef", k=24))
    if style == "google":
        return "1" + "".join(rng.choices("0123456789", k=20))
    return _uuid(rng)


def _ago(anchor: datetime, rng: random.Random, max_days: float, min_days: float = 0) -> datetime:
    """A time between max_days and min_days before the anchor, to the second."""
    return anchor - timedelta(seconds=int(rng.uniform(min_days, max_days) * 86400))


@transaction.atomic
def build_demo(*, seed: int = 42, scale: float = 1.0) -> DemoSummary:
    """Create (or, on a re-run, leave as they are) the demo identities, clients, servers,
    grants and tasks."""
    rng = random.Random(seed)
    anchor = demo_anchor()
    people = _identities(rng, anchor, scale)
    clients = _clients(rng, anchor, people)
    servers = _servers(rng, anchor, people)
    grants = _grants(rng, anchor, scale, people, clients, servers)
    new_tasks = _tasks(rng, anchor, scale, grants)
    return DemoSummary(
        identities=Identity.objects.count(),
        clients=len(clients),
        servers=len(servers),
        grants=len(grants),
        tasks=Task.objects.count(),
        new_tasks=new_tasks,
    )


def _identity_row(rng, anchor, issuer, style, **fields) -> dict:
    first_seen = _ago(anchor, rng, 400, 60)
    return {
        "issuer": issuer,
        "subject": _subject(rng, style),
        "first_seen": first_seen,
        "last_seen": _ago(anchor, rng, 10),
        "seen_from": DEMO,
        "display_name": "",
        "email": "",
        "team": "",
        "status": Identity.Status.ACTIVE,
        **fields,
    }


def _upsert_identities(rows: list[dict]) -> list[Identity]:
    for start in range(0, len(rows), CHUNK):
        entities.bulk_upsert(Identity, rows[start : start + CHUNK], conflict=["issuer", "subject"])
    keys = {(r["issuer"], r["subject"]) for r in rows}
    found = Identity.objects.filter(
        issuer__in={k[0] for k in keys}, subject__in={k[1] for k in keys}
    )
    by_key = {(i.issuer, i.subject): i for i in found}
    return [by_key[(r["issuer"], r["subject"])] for r in rows]


def _identities(rng, anchor, scale) -> dict[str, list[Identity]]:
    """Humans across the IdPs, then services and agents owned by humans of the same IdP."""
    human_rows, seen_emails = [], set()
    while len(human_rows) < _n(300, scale):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        idp = rng.choices(IDPS, weights=[idp["weight"] for idp in IDPS])[0]
        email, n = f"{first}.{last}@acme.example".lower(), 1
        while email in seen_emails:  # namesakes get a number, as mail systems do
            n += 1
            email = f"{first}.{last}{n}@acme.example".lower()
        seen_emails.add(email)
        human_rows.append(
            _identity_row(
                rng,
                anchor,
                idp["issuer"],
                idp["style"],
                display_name=f"{first} {last}",
                email=email,
                kind=Identity.Kind.HUMAN,
                team=rng.choice(TEAMS),
                status=Identity.Status.DISABLED if rng.random() < 0.06 else Identity.Status.ACTIVE,
            )
        )
    humans = _upsert_identities(human_rows)
    owned_rows = []
    for kind, jobs, count in (
        (Identity.Kind.SERVICE, SERVICE_JOBS, _n(40, scale)),
        (Identity.Kind.AGENT, AGENT_JOBS, _n(80, scale)),
    ):
        for index in range(count):
            owner = rng.choice(humans)
            style = next(idp["style"] for idp in IDPS if idp["issuer"] == owner.issuer)
            name = f"{rng.choice(jobs)}-{index + 1:02d}"
            owned_rows.append(
                _identity_row(
                    rng,
                    anchor,
                    owner.issuer,
                    style,
                    display_name=f"{kind}: {name}",
                    kind=kind,
                    team=owner.team,
                    owner_id=owner.pk,
                    status=Identity.Status.DISABLED
                    if rng.random() < 0.08
                    else Identity.Status.ACTIVE,
                )
            )
    owned = _upsert_identities(owned_rows)
    return {
        "human": humans,
        "service": [i for i in owned if i.kind == "service"],
        "agent": [i for i in owned if i.kind == "agent"],
    }


def _clients(rng, anchor, people) -> list[Client]:
    """The catalog's clients, each owned by a human, with a plausible review state."""
    clients = []
    for spec in CLIENTS:
        idp = rng.choice(IDPS)
        client, _ = entities.upsert_client(
            client_id=spec["client_id"],
            at=_ago(anchor, rng, 200, 30),
            seen_from=DEMO,
            registration=spec["registration"],
            name=spec["name"],
            issuer=idp["issuer"],
            version=spec.get("version", ""),
            owner=rng.choice(people["human"]),
            review_status=rng.choices(["approved", "unreviewed", "blocked"], [6, 3, 1])[0],
        )
        entities.upsert_client(client_id=spec["client_id"], at=_ago(anchor, rng, 3), seen_from=DEMO)
        clients.append(client)
    return clients


def _servers(rng, anchor, people) -> list[Server]:
    """The catalog's servers with remotes, tools (a few non-conforming names) and versions."""
    # Disabled: the scheduler crawls enabled registries, and demo data must not cause traffic.
    # The base URL is stored normalized, as every other path stores it: a later crawl of the
    # same URL must find this registry, not add a second one.
    demo_registries = (
        (
            "Official MCP Registry (demo)",
            "https://registry.modelcontextprotocol.example/",
            "official",
        ),
        ("ACME private registry (demo)", "https://mcp-registry.acme.example/", "private"),
    )
    registries = [
        Registry.objects.update_or_create(
            name=name,
            defaults={"base_url": normalize_base_url(url), "kind": kind, "enabled": False},
        )[0]
        for name, url, kind in demo_registries
    ]
    servers = []
    for spec in SERVERS:
        registry = registries[0] if spec["name"].startswith("io.github.") else registries[1]
        versions = spec["versions"]
        server, _ = entities.upsert_server(
            name=spec["name"],
            at=_ago(anchor, rng, 300, 60),
            seen_from=DEMO,
            title=spec["title"],
            description=spec["description"],
            latest_version=versions[-1] if versions else "",
            repository_url=f"https://github.com/{spec['name'].split('/')[0][10:]}/"
            f"{spec['name'].split('/')[1]}"
            if "io.github." in spec["name"]
            else "",
            registry_status=spec.get("status", Server.RegistryStatus.ACTIVE),
            owner=rng.choice(people["human"]),
            review_status=rng.choices(["approved", "unreviewed", "blocked"], [6, 3, 1])[0],
            remotes=[
                {"url": url, "transport": "sse" if url.endswith("/sse") else "streamable-http"}
                for url in spec["remotes"]
            ],
            tools=[
                {
                    "name": tool,
                    "task_support": "optional" if tool in spec.get("task_tools", ()) else "",
                }
                for tool in spec["tools"]
            ],
        )
        entities.upsert_server(name=spec["name"], at=_ago(anchor, rng, 2), seen_from=DEMO)
        for index, version in enumerate(versions):
            entities.upsert_server_version(
                server=server,
                version=version,
                registry=registry,
                at=anchor - timedelta(days=30 * (len(versions) - index)),
                is_latest=index == len(versions) - 1,
                published_at=anchor - timedelta(days=30 * (len(versions) - index)),
                document={"name": spec["name"], "version": version},
            )
        servers.append(server)
    return servers


GRANT_TYPES = [
    (Grant.GrantType.AUTHORIZATION_CODE, 50),
    (Grant.GrantType.REFRESH_TOKEN, 14),
    (Grant.GrantType.TOKEN_EXCHANGE, 9),
    (Grant.GrantType.JWT_BEARER, 7),
    (Grant.GrantType.CLIENT_CREDENTIALS, 10),
    # What IdP syncs list besides token grants: people's consents to chat apps, and the
    # permissions an admin gave a service client itself.
    (Grant.GrantType.CONSENT, 6),
    (Grant.GrantType.APPLICATION_PERMISSION, 4),
]
# Standing permissions rather than tokens: revoked, never expired, and no refresh token.
STANDING = {Grant.GrantType.CONSENT, Grant.GrantType.APPLICATION_PERMISSION}


def _grant_type(rng, number: int) -> str:
    """Weighted, but the first rows take each type once, so every type shows at any scale."""
    if number < len(GRANT_TYPES):
        return GRANT_TYPES[number][0]
    return rng.choices([t for t, _ in GRANT_TYPES], [w for _, w in GRANT_TYPES])[0]


def _grant_parties(rng, grant_type, people, clients) -> tuple[Identity | None, Client]:
    """(subject, client): machine clients hold grants to themselves, people consent to chat
    apps, and the other interactive clients act for a person or an agent."""
    machine = [c for c in clients if c.registration in ("client_credentials", "workload")]
    if grant_type == Grant.GrantType.APPLICATION_PERMISSION:
        return None, rng.choice([c for c in machine if c.registration == "client_credentials"])
    if grant_type == Grant.GrantType.CLIENT_CREDENTIALS:
        return None, rng.choice(machine)
    if grant_type == Grant.GrantType.CONSENT:
        return rng.choice(people["human"]), rng.choice(
            [c for c in clients if c.client_id in CHAT_APPS]
        )
    subject = rng.choice(people["agent"] if rng.random() < 0.3 else people["human"])
    return subject, rng.choice([c for c in clients if c not in machine])


def _grant_row(rng, anchor, number, people, clients, servers, resources) -> dict:
    grant_type = _grant_type(rng, number)
    subject, client = _grant_parties(rng, grant_type, people, clients)
    server = rng.choice(servers)
    issuer = subject.issuer if subject else rng.choice(IDPS)["issuer"]
    issued = _ago(anchor, rng, 180)
    # Consents and application permissions (app roles) are to the server's own scopes, not the
    # OpenID ones a login adds.
    scopes = own_scopes(server) if grant_type in STANDING else server_scopes(server)
    row = {
        "issuer": issuer,
        "external_id": f"grt-{number:06d}-{_uuid(rng)[:8]}",
        "client_id": client.pk,
        "subject_id": subject.pk if subject else None,
        "server_id": server.pk,
        "resource": resources.get(server.pk, ""),
        "scopes": rng.sample(scopes, k=rng.randint(1, 3)),
        "grant_type": grant_type,
        "has_refresh_token": grant_type
        in (Grant.GrantType.AUTHORIZATION_CODE, Grant.GrantType.REFRESH_TOKEN),
        "issued_at": issued,
        "first_seen": issued,
        "seen_from": DEMO,
        **_grant_lifetime(rng, anchor, issued, grant_type, people),
    }
    end = row["revoked_at"] or min(row["expires_at"] or anchor, anchor)
    row["last_used_at"] = issued + (end - issued) * rng.uniform(0.1, 1.0)
    row["last_seen"] = row["last_used_at"]
    return row


def _grant_lifetime(rng, anchor, issued, grant_type, people) -> dict:
    """Status, expiry and revocation: some active (a few expiring soon), expired, revoked."""
    if grant_type in STANDING:
        status = rng.choices(["active", "revoked"], [80, 20])[0]
    else:
        status = rng.choices(["active", "revoked", "expired"], [60, 15, 25])[0]
    row = {"status": status, "revoked_at": None, "revoked_by": "", "revoke_reason": ""}
    if grant_type in STANDING:
        row["expires_at"] = None
    elif status == "expired":
        row["expires_at"] = min(
            issued + timedelta(days=rng.choice([1, 7, 30, 90])), anchor - timedelta(hours=1)
        )
    elif status == "active":
        soon = rng.random() < 0.06
        row["expires_at"] = (
            anchor + timedelta(hours=rng.randint(2, 160))
            if soon
            else anchor + timedelta(days=rng.randint(8, 120))
        )
    else:
        row["expires_at"] = anchor + timedelta(days=rng.randint(1, 90))
    if status == "revoked":
        row["revoked_at"] = issued + (anchor - issued) * rng.uniform(0.2, 0.95)
        row["revoked_by"] = rng.choice(
            ["secops@acme.example", "okta-workflow:offboarding", rng.choice(people["human"]).email]
        )
        row["revoke_reason"] = rng.choice(REVOKE_REASONS)
    return row


def own_scopes(server: Server) -> list[str]:
    """The scopes a server defines for itself: read, write and admin on its resource name."""
    base = server.name.split("/")[-1]
    return [f"{base}:read", f"{base}:write", f"{base}:admin"]


def server_scopes(server: Server) -> list[str]:
    """Scopes a server's grants use: its own, plus the OpenID ones a login adds."""
    return [*own_scopes(server), "openid", "offline_access"]


def _grants(rng, anchor, scale, people, clients, servers) -> list[int]:
    # The audience (RFC 8707 resource) of a grant is its server's first remote.
    resources = {server.pk: "" for server in servers}
    remotes = (
        ServerRemote.objects.filter(server__in=servers)
        .order_by("server_id", "url")
        .values_list("server_id", "url")
    )
    for server_id, url in remotes:  # one query for all servers; each keeps its first url
        resources[server_id] = resources[server_id] or url
    rows = [
        _grant_row(rng, anchor, number, people, clients, servers, resources)
        for number in range(_n(3000, scale))
    ]
    pks = []
    for start in range(0, len(rows), CHUNK):
        pks += [
            pk
            for pk, _ in entities.bulk_upsert(
                Grant, rows[start : start + CHUNK], conflict=["issuer", "external_id"]
            )
        ]
    return pks


# (statuses after `working`, weight); the last path leaves a terminal state: illegal, flagged.
TASK_PATHS = [
    ([], 14),
    (["input_required"], 8),
    (["completed"], 40),
    (["input_required", "working", "completed"], 10),
    (["failed"], 12),
    (["cancelled"], 8),
    (["input_required", "cancelled"], 4),
    (["completed", "working"], 2),
    (["failed", "completed"], 1),
]
TASK_MESSAGES = {
    "input_required": "Waiting for the user to confirm",
    "failed": "Upstream 502",
    "cancelled": "Cancelled by the requestor",
    "completed": "",
    "working": "",
}


def _task_ttl(rng, number: int) -> int:
    """A minute or an hour, as most servers grant; every fourth task is a long job kept for
    30 days, so the demo shows tasks genuinely running beside those past their TTL."""
    ttl_ms = rng.choice([60000, 3600000])
    return 30 * 86_400_000 if number % 4 == 0 else ttl_ms


CATALOG_TOOLS = {spec["name"]: spec["tools"] for spec in SERVERS}


def _tasks(rng, anchor, scale, grant_pks) -> int:
    """Tasks on grants that are active now or were, each with its status history."""
    grants = list(
        Grant.objects.filter(pk__in=grant_pks, server__isnull=False)
        .select_related("server", "client", "subject")
        .order_by("id")
    )
    tools_by_server: dict[int, list[str]] = {}
    created_count = 0
    for number in range(_n(300, scale)):
        grant = rng.choice(grants)
        # The catalog's tools only: ingest derives tools from events too (the demo's protocol
        # traffic calls `sync` anywhere), and a reseed must choose from the same list.
        tools = tools_by_server.setdefault(
            grant.server_id,
            list(
                grant.server.tools.filter(name__in=CATALOG_TOOLS.get(grant.server.name, ()))
                .order_by("name")
                .values_list("name", flat=True)
            ),
        )
        path = rng.choices([p for p, _ in TASK_PATHS], [w for _, w in TASK_PATHS])[0]
        at = _ago(anchor, rng, 20, 0.2)
        task, created = entities.upsert_task(
            task_id=f"task-{_uuid(rng)}",
            server=grant.server,
            at=at,
            seen_from=DEMO,
            client=grant.client,
            identity=grant.subject,
            grant=grant,
            method="tools/call",
            tool_name=rng.choice(tools) if tools else "",
            ttl_ms=_task_ttl(rng, number),
            poll_interval_ms=5000,
            protocol_version="2025-11-25",
            session_id=f"sess-{number:05d}",
        )
        steps = [at + timedelta(minutes=rng.randint(1, 90) * (i + 1)) for i in range(len(path))]
        if not created:
            continue  # its history was recorded by the run that created it
        created_count += 1
        for status, step_at in zip(path, steps, strict=True):
            entities.report_task_status(
                task,
                status=status,
                at=min(step_at, anchor),
                message=TASK_MESSAGES[status],
                event_ref=f"evt-{number:05d}-{status}",
            )
    return created_count
