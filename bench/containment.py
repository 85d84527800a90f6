"""Containment benchmark (issue 13 §6): how fast a confirmed revocation is done and verified, and
how close a bulk revocation runs to an IdP's rate limit.

The whole stack runs as in production: the Granian web server, a Celery worker and a real
broker (RabbitMQ on 127.0.0.1:5672 unless --broker says otherwise); the bench process is the
Admin, talking to the API with an admin-scope token.

1. Latency, against the real oidc-provider peer (tests/peers/oidc): each run mints a user's
   grant with a refresh token at the peer, records it in the inventory, then times
   `POST /api/v1/revocations/` (the Admin's confirm) until `GET /api/v1/revocations/{id}/` says
   done and verified (every step done, the grant no longer listed by the IdP). p50 and p95 over
   --runs runs; goal p95 <= 5 s. Baseline in the same run: the median of a bare
   `GET /api/v1/revocations/{id}/` (what one poll costs), to read the figures against.
2. Bulk: --bulk grants at a grants_url peer (tests/fixtures/grants_server.py, its own process)
   limited to --rate requests/s with Okta-style headers and 429s past the limit; the connection
   asks for `revoke_rate_per_second` = --rate. Times the bulk revocation from confirm to done and
   compares it with the floor (calls / rate); goal within 1.2x, at most 1% of calls answered 429.

    .venv/bin/python bench/containment.py [--runs 50] [--bulk 1000] [--rate 20]

Needs DATABASE_URL (a PostgreSQL server it may create the scratch database
`mcpgov_bench_containment` on) and the peers' npm packages (`make test` installs them).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import orjson

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
os.environ.setdefault("FETCH_ALLOWLIST", "127.0.0.1")
os.environ.setdefault("LOG_LEVEL", "WARNING")
BENCH_DB = "mcpgov_bench_containment"
from scratchdb import fresh_server_database  # noqa: E402 - the bench folder, just put on the path


class Stack:
    """Web server and Celery worker on the scratch database and one broker queue."""

    def __init__(self, broker: str, var_dir: Path):
        from tests.celery_worker import worker_env
        from tests.web_server import WebServer

        queue = f"bench-containment-{uuid.uuid4().hex[:8]}"
        extra = {"CELERY_BROKER_URL": broker, "CELERY_QUEUE": queue, "LOG_LEVEL": "WARNING"}
        os.environ.update(extra)  # this process sends nothing, but keep one truth
        self.web = WebServer(workers=1, threads=4, env=extra)
        env = worker_env(var_dir, {**extra, "CELERY_TASK_ALWAYS_EAGER": "false"})
        self.worker_log = var_dir / "worker.log"
        self.worker = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "governance",
                "worker",
                "--concurrency",
                "2",
                "--loglevel",
                "WARNING",
                "-Q",
                queue,
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=self.worker_log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        time.sleep(3)  # the worker connects to the broker; tasks sent before wait in the queue
        if self.worker.poll() is not None:
            raise RuntimeError(f"the worker exited: {self.worker_log.read_text()[-2000:]}")

    def stop(self) -> None:
        self.web.kill()
        self.worker.terminate()
        try:
            self.worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.worker.kill()


def admin_token() -> str:
    from django.contrib.auth import get_user_model

    from governance.access.api_tokens import create_token

    admin = get_user_model().objects.create_superuser("bench-admin", "", uuid.uuid4().hex)
    _token, secret = create_token(actor=admin, name="bench", scope="admin")
    return secret


def oauth_connection(name: str, issuer: str, config: dict, secret: str):
    from governance.access import secrets
    from governance.idp.models import IdpConnection, IdpIssuer

    connection = IdpConnection.objects.create(
        name=name,
        kind="oauth",
        config={"issuer": issuer, "client_id": "console", **config},
        secret_encrypted=secrets.encrypt(secret),
        sync_interval_minutes=0,
    )
    IdpIssuer.objects.create(connection=connection, issuer=issuer)
    return connection


def wait_done(api: httpx.Client, revocation_id: int, timeout: float = 600) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = api.get(f"/api/v1/revocations/{revocation_id}/").json()
        if body["status"] in ("done", "failed"):
            return body
        time.sleep(0.05)
    raise RuntimeError(f"revocation {revocation_id} not finished in {timeout}s")


def start(api: httpx.Client, payload: dict) -> int:
    answer = api.post("/api/v1/revocations/", json=payload)
    if answer.status_code not in (200, 201, 202):
        raise RuntimeError(f"start refused: {answer.status_code} {answer.text[:500]}")
    return answer.json()["id"]


def latency(api: httpx.Client, runs: int) -> dict:
    """Confirm → done and verified, against oidc-provider."""
    from tests import ui_factories as f
    from tests.governance.connectors.peers import OIDC_PEER_DIR, node_peer

    with node_peer(OIDC_PEER_DIR, "peer.mjs") as info:
        issuer = info["issuer"]
        console = info["clients"]["console"]
        oauth_connection(
            "oidc-provider",
            issuer,
            {"grants_url": f"{issuer}/admin/grants", "revoke_rate_per_second": 50},
            console["client_secret"],
        )
        agent = f.client("agent", name="Agent", issuer=issuer)
        peer = httpx.Client(
            base_url=issuer, auth=(console["client_id"], console["client_secret"]), timeout=10
        )
        times, polls, failures = [], [], []
        for run in range(runs):
            subject = f"user-{run}"
            minted = peer.post(
                "/admin/grants", json={"subject": subject, "client_id": "agent"}
            ).json()
            identity = f.identity(subject, issuer=issuer, display_name=subject)
            grant = f.grant(
                minted["grant_id"], client=agent, subject=identity, issuer=issuer, status="active"
            )
            began = time.perf_counter()
            revocation_id = start(
                api, {"action": "grant", "grant": grant.pk, "reason": "bench: latency"}
            )
            body = wait_done(api, revocation_id)
            times.append(time.perf_counter() - began)
            if body["outcome"] != "done" or body["proof"] != "verified":
                failures.append((revocation_id, body["outcome"], body["proof"]))
            poll_began = time.perf_counter()
            api.get(f"/api/v1/revocations/{revocation_id}/")
            polls.append(time.perf_counter() - poll_began)
            still = peer.get("/admin/grants", params={"subject": subject}).json()["grants"]
            if still:
                failures.append((revocation_id, "still listed at the peer", len(still)))
    times.sort()
    return {
        "runs": runs,
        "p50_s": statistics.median(times),
        "p95_s": times[max(0, round(0.95 * len(times)) - 1)],
        "max_s": times[-1],
        "poll_median_ms": statistics.median(polls) * 1000,
        "failures": failures,
    }


def bulk(api: httpx.Client, count: int, rate: int) -> dict:
    """A bulk revocation of `count` grants at a peer limited to `rate` requests/s."""
    from inventory.models import Grant
    from tests import ui_factories as f

    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.fixtures.grants_server",
            "--grants",
            str(count),
            "--users",
            str(count),
            "--rate",
            str(rate),
        ],
        cwd=BASE_DIR,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    grants_url = proc.stdout.readline().strip()
    issuer = "https://bulk-as.example"
    try:
        oauth_connection(
            "rate-limited",
            issuer,
            {"grants_url": grants_url, "revoke_rate_per_second": rate},
            "console-secret",
        )
        from tests.fixtures.grants_server import generated_grants

        clients, identities = {}, {}
        for item in generated_grants(count, count):
            client = clients.get(item["client_id"]) or f.client(
                item["client_id"], name=item["client_id"], issuer=issuer
            )
            clients[item["client_id"]] = client
            identity = identities.get(item["subject"]) or f.identity(item["subject"], issuer=issuer)
            identities[item["subject"]] = identity
            f.grant(item["id"], client=client, subject=identity, issuer=issuer)
        active = Grant.objects.filter(issuer=issuer, status="active").count()
        began = time.perf_counter()
        revocation_id = start(
            api,
            {
                "action": "bulk",
                "reason": "bench: bulk",
                "filter": {"status": "active", "issuer": issuer},
            },
        )
        body = wait_done(api, revocation_id, timeout=30 * 60)
        elapsed = time.perf_counter() - began
    finally:
        proc.stdin.close()
        stats = orjson.loads(proc.stdout.readline() or b"{}")
        proc.wait(timeout=30)
    statuses = stats.get("statuses", {})
    calls = sum(statuses.values())
    floor = calls / rate if rate else 0.0
    return {
        "grants": active,
        "outcome": body["outcome"],
        "proof": body["proof"],
        "seconds": elapsed,
        "calls": calls,
        "statuses": statuses,
        "floor_s": floor,
        "ratio_to_floor": elapsed / floor if floor else None,
        "share_429": statuses.get("429", 0) / calls if calls else 0.0,
        "revoked_in_ledger": Grant.objects.filter(issuer=issuer, status="revoked").count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--bulk", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=20)
    parser.add_argument("--broker", default="amqp://guest:guest@127.0.0.1:5672//")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-bulk", action="store_true")
    args = parser.parse_args()

    fresh_server_database(BENCH_DB)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    token = admin_token()
    with tempfile.TemporaryDirectory(prefix="bench-containment-") as var_dir:
        stack = Stack(args.broker, Path(var_dir))
        try:
            api = httpx.Client(
                base_url=stack.web.url,
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            if not args.skip_latency:
                figures = latency(api, args.runs)
                print(
                    f"latency (confirm -> done and verified, oidc-provider, {figures['runs']} "
                    f"runs): p50 {figures['p50_s']:.2f} s, p95 {figures['p95_s']:.2f} s, "
                    f"max {figures['max_s']:.2f} s; one status poll {figures['poll_median_ms']:.1f}"
                    f" ms (baseline); p95 / goal 5 s = {figures['p95_s'] / 5:.2f}"
                )
                if figures["failures"]:
                    print(f"  NOT done and verified: {figures['failures'][:10]}")
            if not args.skip_bulk:
                figures = bulk(api, args.bulk, args.rate)
                print(
                    f"bulk ({figures['grants']} grants, peer limited to {args.rate}/s): "
                    f"{figures['seconds']:.1f} s for {figures['calls']} calls "
                    f"(floor {figures['floor_s']:.1f} s, ratio {figures['ratio_to_floor']:.2f}); "
                    f"429s {figures['statuses'].get('429', 0)} = {figures['share_429']:.2%}; "
                    f"outcome {figures['outcome']}, proof {figures['proof']}, "
                    f"{figures['revoked_in_ledger']} marked revoked; statuses {figures['statuses']}"
                )
        finally:
            stack.stop()


if __name__ == "__main__":
    main()
