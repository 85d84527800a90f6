"""CIMD crawl benchmark: fetch + validate + store at concurrency 50 vs the bare fetch rate.

    .venv/bin/python bench/cimd.py [--docs 2000] [--rounds 3] [--concurrency 50]

A document server runs in a child process on 127.0.0.1 (ephemeral port; its own GIL), serving
~700-byte client metadata documents. In the same run we measure, per round:
  bare-pool   httpx.Client shared by 50 threads (keep-alive pool), GET only, no checks
  bare-new    a new httpx connection per request from 50 threads, GET only
  crawl       inventory.services.cimd.refresh_due_documents(concurrency=50): safe_fetch (address
              policy, pinned connection, caps), validation, version upsert, state, fetch log
  recrawl     the same again when every document is unchanged
and print medians and crawl / best-bare. Uses its own embedded PostgreSQL cluster under
var/pgbench-cimd (default durability) so it never touches the dev or test database.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


# --- The document server (child process) ------------------------------------------------------


def document_for(port: int, index: int) -> bytes:
    url = f"http://127.0.0.1:{port}/c/{index}/client.json"
    return json.dumps(
        {
            "client_id": url,
            "client_name": f"Bench Agent {index}",
            "client_uri": "https://agent.bench.example",
            "logo_uri": "https://agent.bench.example/l.png",
            "redirect_uris": [
                "https://agent.bench.example/callback",
                f"https://agent.bench.example/cb/{index}",
            ],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": "mcp:tools mcp:resources",
            "contacts": ["security@agent.bench.example"],
            "software_id": "bench-agent",
            "software_version": "1.0.0",
            "tos_uri": "https://agent.bench.example/tos",
            "policy_uri": "https://agent.bench.example/privacy",
        }
    ).encode()


async def _handle(reader, writer, port):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1].decode()
            parts = path.split("/")
            body = (
                document_for(port, int(parts[2]))
                if len(parts) > 2 and parts[2].isdigit()
                else b"{}"
            )
            close = b"connection: close" in head.lower()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Cache-Control: max-age=3600\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n"
                + (b"Connection: close\r\n" if close else b"")
                + b"\r\n"
                + body
            )
            await writer.drain()
            if close:
                break
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve():
    server = await asyncio.start_server(
        lambda r, w: _handle(r, w, port), "127.0.0.1", 0, backlog=1024
    )
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    async with server:
        await server.serve_forever()


# --- Measurements -----------------------------------------------------------------------------


def bare_pool(port: int, n: int, concurrency: int) -> float:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    with httpx.Client(limits=limits, trust_env=False) as client:
        start = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            list(
                pool.map(
                    lambda i: client.get(
                        f"http://127.0.0.1:{port}/c/{i}/client.json"
                    ).raise_for_status(),
                    range(n),
                )
            )
        return n / (time.perf_counter() - start)


def bare_new(port: int, n: int, concurrency: int) -> float:
    import httpx

    ssl_context = httpx.create_ssl_context()  # built once: it costs ~25 ms per client otherwise

    def one(i):
        with httpx.Client(trust_env=False, verify=ssl_context) as client:
            client.get(f"http://127.0.0.1:{port}/c/{i}/client.json").raise_for_status()

    start = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(n)))
    return n / (time.perf_counter() - start)


def crawl(n: int, concurrency: int) -> tuple[float, dict]:
    from django.utils import timezone

    from inventory.models import ClientDocumentState
    from inventory.services.cimd import refresh_due_documents

    ClientDocumentState.objects.update(next_fetch_at=timezone.now())
    start = time.perf_counter()
    counts = refresh_due_documents(limit=n, concurrency=concurrency)
    return n / (time.perf_counter() - start), counts


def forget_versions() -> None:
    from inventory.models import ClientDocument, ClientDocumentState

    ClientDocumentState.objects.update(current=None)
    ClientDocument.objects.all().delete()


def setup_database(port: int, n: int) -> None:
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from inventory.models import Client, ClientDocumentState

    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:  # a clean slate for this run's documents
        cur.execute(
            "TRUNCATE inventory_fetchrecord, inventory_clientdocumentstate, "
            "inventory_clientdocument, inventory_finding"
        )
    Client.objects.filter(client_id__startswith="http://127.0.0.1:").delete()
    now = timezone.now()
    clients = Client.objects.bulk_create(
        [
            Client(
                client_id=f"http://127.0.0.1:{port}/c/{i}/client.json",
                registration="cimd",
                first_seen=now,
                last_seen=now,
                seen_from="cimd",
            )
            for i in range(n)
        ]
    )
    ClientDocumentState.objects.bulk_create([ClientDocumentState(client=c) for c in clients])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve())
        return

    os.environ.setdefault("PGDATA_DIR", str(ROOT / "var" / "pgbench-cimd"))
    os.environ.setdefault("EMBEDDED_DB_NAME", "mcpgov_bench_cimd")
    os.environ["FETCH_ALLOWLIST"] = "127.0.0.1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    from governance.platform import devdb

    pgdata = Path(os.environ["PGDATA_DIR"]).resolve()
    started = devdb.ensure_running(pgdata)
    devdb.ensure_database(os.environ["EMBEDDED_DB_NAME"], pgdata)
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(server.stdout.readline())
        import django

        django.setup()
        import logging

        logging.getLogger("httpx").setLevel(logging.WARNING)
        setup_database(port, args.docs)
        results = {"bare-pool": [], "bare-new": [], "crawl": [], "recrawl": []}
        for round_no in range(1, args.rounds + 1):
            results["bare-pool"].append(bare_pool(port, args.docs, args.concurrency))
            results["bare-new"].append(bare_new(port, args.docs, args.concurrency))
            forget_versions()  # the crawl measures first fetches: every document is new
            rate, counts = crawl(args.docs, args.concurrency)
            assert counts["ok"] == args.docs, counts
            results["crawl"].append(rate)
            rate, counts = crawl(args.docs, args.concurrency)
            assert counts["ok"] == args.docs and counts["changed"] == 0, counts
            results["recrawl"].append(rate)
            print(
                f"round {round_no}: " + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in results.items()),
                flush=True,
            )
        med = {k: statistics.median(v) for k, v in results.items()}
        best_bare = max(med["bare-pool"], med["bare-new"])
        print(
            f"\nCIMD crawl, {args.docs} documents, concurrency {args.concurrency}, "
            f"{args.rounds} rounds (medians):"
        )
        for key, value in med.items():
            print(f"  {key:10s} {value:8.0f} docs/s")
        print(f"  crawl / best bare   = {med['crawl'] / best_bare:.2f}")
        print(f"  recrawl / best bare = {med['recrawl'] / best_bare:.2f}")
    finally:
        server.terminate()
        server.wait()
        if started:
            devdb.stop(pgdata)


if __name__ == "__main__":
    main()
