"""Alerts benchmark (issue 14 §7): how fast a finding reaches a webhook, and whether event
forwarding keeps up with ingest.

The whole stack runs as `make run` runs it, on a scratch database: the Granian web server, a
Celery worker (concurrency 2) and Celery beat (the dispatch beat every
ALERTS_DISPATCH_INTERVAL_SECONDS, the forward tick every ALERTS_FORWARD_INTERVAL_SECONDS), over
a real broker (RabbitMQ on 127.0.0.1:5672 unless --broker says otherwise). The receiver is a
plain HTTP server in this process that notes when each message arrives.

(a) Latency: --latency events, one every --gap seconds, each from its own killed client
    (`access.used_after_revocation`, raised in the ingest path), POSTed to /api/v1/events;
    the time from the POST to the webhook's arrival at the receiver, p50 and p95 (goal p95 <= 2 s;
    the destination's group_wait is 1 s, grouped by object so each finding is its own group).
(b) Forwarding: the ingest end-to-end rate of bench/ingest.py's (b) (1,000 events per request,
    4 concurrent clients) on --forward events, then the same number of stored events forwarded
    from a cursor to the receiver through the worker (webhook destination, canonical JSON):
    events/s from the first send's arrival to the last's (and, apart, counting the wait for the
    worker to start); ratio forwarding ÷ ingest (goal >= 1).

    DATABASE_URL=postgres://... .venv/bin/python bench/alerts.py [--latency 100] [--forward 50000]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import orjson

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
os.environ.setdefault("FETCH_ALLOWLIST", "127.0.0.1")
os.environ.setdefault("LOG_LEVEL", "WARNING")
BENCH_DB = "mcpgov_bench_alerts"
from loadgen import post_all  # noqa: E402  (bench/ is a folder of scripts: by path)
from scratchdb import fresh_server_database  # noqa: E402

KILLED = "bench-killed-"
WARM_UP = 5  # findings delivered before the timed ones
FORWARDED = "bench-fwd-"


class Receiver:
    """HTTP on 127.0.0.1 taking webhooks (signatures not checked here: tests/receivers does):
    notes when each killed client's finding arrives and counts the forwarded events."""

    def __init__(self):
        self.arrivals: dict[str, float] = {}
        self.forwarded = 0
        self.forward_times: list[tuple[float, int]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.perf_counter()
                receiver.note(body, now)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def note(self, body: bytes, now: float) -> None:
        data = orjson.loads(body).get("data") or {}
        events = sum(
            str(e.get("event_id", "")).startswith(FORWARDED) for e in data.get("events") or []
        )
        names = [
            f.get("object_repr", "")
            for f in data.get("findings") or []
            if f.get("object_repr", "").startswith(KILLED)
        ]
        with self.lock:
            if events:
                self.forward_times.append((now, events))
            self.forwarded += events
            for name in names:
                self.arrivals.setdefault(name, now)

    def stop(self):
        self.server.shutdown()


class Stack:
    """Web server, Celery worker and beat on the scratch database and one broker queue."""

    def __init__(self, broker: str, var_dir: Path):
        from tests.celery_worker import worker_env
        from tests.web_server import WebServer

        queue = f"bench-alerts-{uuid.uuid4().hex[:8]}"
        extra = {"CELERY_BROKER_URL": broker, "CELERY_QUEUE": queue, "LOG_LEVEL": "WARNING"}
        os.environ.update(extra)  # this process enqueues the forward task on the same queue
        # as bench/ingest.py runs it (governance/platform/webserver.py): a process per core
        self.web = WebServer(workers=os.cpu_count() or 2, threads=16, env=extra)
        env = worker_env(var_dir, {**extra, "CELERY_TASK_ALWAYS_EAGER": "false"})
        celery = str(Path(sys.executable).parent / "celery")
        self.logs = var_dir / "worker.log", var_dir / "beat.log"
        self.procs = [
            subprocess.Popen(
                [celery, "-A", "governance", *args],
                cwd=BASE_DIR,
                env=env,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            for args, log in (
                (
                    ["worker", "--concurrency", "2", "--loglevel", "WARNING", "-Q", queue],
                    self.logs[0],
                ),
                (
                    ["beat", "--loglevel", "WARNING", "-s", str(var_dir / "beat-schedule")],
                    self.logs[1],
                ),
            )
        ]
        time.sleep(3)  # the worker connects to the broker; tasks sent before wait in the queue
        for proc, log in zip(self.procs, self.logs, strict=True):
            if proc.poll() is not None:
                raise RuntimeError(f"{log.name} exited: {log.read_text()[-2000:]}")

    def stop(self) -> None:
        self.web.kill()
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def killed_clients(n: int) -> list[str]:
    """n clients cut off an hour ago (a kill switch): any later call of theirs is a finding."""
    from inventory.models import Client
    from tests import ui_factories as f

    names = [f"{KILLED}{i:05d}" for i in range(n)]
    for name in names:
        f.client(f"https://{name}.example/client.json", name=name)
    Client.objects.filter(name__startswith=KILLED).update(
        cut_off_at=datetime.now(UTC) - timedelta(hours=1)
    )
    return names


def latency(web_url: str, token: str, receiver: Receiver, count: int, gap: float) -> dict:
    from tests.ingest_helpers import iso, make_event

    names = killed_clients(count + WARM_UP)
    sent = {}
    url = f"{web_url}/api/v1/events"
    for number, name in enumerate(names):
        if number == WARM_UP:  # the stack has served a few: its connections are open
            wait_for(lambda: len(receiver.arrivals) >= WARM_UP)
            receiver.arrivals.clear()
        event = make_event(
            time=iso(datetime.now(UTC)),
            client={"id": f"https://{name}.example/client.json", "name": name},
        )
        sent[name] = time.perf_counter()
        post_all(url, token, [orjson.dumps([event])], 1)
        time.sleep(gap)
    wait_for(lambda: len(receiver.arrivals) >= count)
    times = sorted(
        receiver.arrivals[n] - sent[n] for n in names[WARM_UP:] if n in receiver.arrivals
    )
    return {
        "count": count,
        "delivered": len(times),
        "p50": statistics.median(times) if times else float("nan"),
        "p95": times[max(0, round(0.95 * len(times)) - 1)] if times else float("nan"),
        "max": times[-1] if times else float("nan"),
    }


def wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)


def ingest_rate(web_url: str, token: str, count: int) -> float:
    """bench/ingest.py's (b): 1,000 events per request, 4 concurrent clients."""
    from ingest import make_events

    events = make_events(count, seed=42)
    for event in events:
        event["id"] = f"bench-fwd-{event['id']}"
    bodies = [orjson.dumps(events[i : i + 1000]) for i in range(0, len(events), 1000)]
    return count / post_all(f"{web_url}/api/v1/events", token, bodies, 4)


def forwarding_rate(destination, receiver: Receiver, count: int) -> dict:
    from audit.services.seal import seal_pending
    from governance.alerts import forwarding, tasks

    seal_pending()  # what the ingest's own seals and the beat's sweeper did not get to yet
    destination.forward_events = True
    destination.save(update_fields=["forward_events"])
    began = time.perf_counter()
    tasks.forward_events.delay(destination.pk)
    deadline = time.monotonic() + 600
    while forwarding.lag(destination)["events_behind"] and time.monotonic() < deadline:
        time.sleep(0.05)
    elapsed = time.perf_counter() - began
    times = receiver.forward_times
    # The stream's rate once it runs: from the first send's arrival to the last's (the wait for
    # a worker to pick the task up, up to a forward tick, is a one-off of a new stream).
    steady = (count - times[0][1]) / (times[-1][0] - times[0][0]) if len(times) > 1 else 0.0
    return {
        "events": receiver.forwarded,
        "seconds": elapsed,
        "rate": steady,
        "overall": count / elapsed,
        "first_send_s": times[0][0] - began if times else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=int, default=100)
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between latency events")
    parser.add_argument("--forward", type=int, default=50_000)
    parser.add_argument("--broker", default="amqp://guest:guest@127.0.0.1:5672//")
    args = parser.parse_args()
    fresh_server_database(BENCH_DB)
    import django

    django.setup()
    from django.core.management import call_command

    from audit.services.sources import create_source
    from governance.alerts.forwarding import start_cursor
    from governance.alerts.models import Destination

    call_command("migrate", verbosity=0)
    _source, token = create_source(name="bench")
    receiver = Receiver()
    Destination.objects.create(
        name="bench-webhook",
        kind="webhook",
        url=receiver.url,
        group_by="object",
        min_severity="high",
        secret_encrypted=webhook_secret(),
    )
    stream = Destination.objects.create(
        name="bench-stream",
        kind="webhook",
        url=receiver.url,
        send_findings=False,
        secret_encrypted=webhook_secret(),
    )
    with tempfile.TemporaryDirectory(prefix="bench-alerts-") as var_dir:
        stack = Stack(args.broker, Path(var_dir))
        try:
            figures = latency(stack.web.url, token, receiver, args.latency, args.gap)
            print(
                f"(a) event ingested -> webhook delivered ({figures['delivered']}/"
                f"{figures['count']} delivered, one every {args.gap} s): p50 "
                f"{figures['p50']:.2f} s, p95 {figures['p95']:.2f} s, max {figures['max']:.2f} s;"
                f" p95 / goal 2 s = {figures['p95'] / 2:.2f}",
                flush=True,
            )
            start_cursor(stream)  # at the head: the stream is the events ingested next
            ingest = ingest_rate(stack.web.url, token, args.forward)
            forward = forwarding_rate(stream, receiver, args.forward)
            print(
                f"(b) ingest end-to-end (1,000/request, 4 clients): {ingest:,.0f} events/s; "
                f"forwarding ({forward['events']:,} events received, webhook, canonical JSON): "
                f"{forward['rate']:,.0f} events/s from the first send to the last (first send "
                f"{forward['first_send_s']:.2f} s after the task was queued; "
                f"{forward['overall']:,.0f} events/s counting that wait); "
                f"ratio forwarding / ingest = {forward['overall'] / ingest:.2f} end to end "
                f"({forward['rate'] / ingest:.2f} from the first send)",
                flush=True,
            )
        finally:
            stack.stop()
            receiver.stop()


def webhook_secret() -> str:
    from governance.access import secrets

    return secrets.encrypt("whsec_" + "YmVuY2gtc2VjcmV0LWJlbmNoLXNlY3JldA==")


if __name__ == "__main__":
    main()
