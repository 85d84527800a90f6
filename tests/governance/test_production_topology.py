"""The production shape, end to end, against real servers: PostgreSQL at DATABASE_URL, a Redis
or RabbitMQ broker, two Celery worker processes and the two-worker web server (Granian).

It checks what only this shape can break: an ingest answered by one web worker is in the
database, a crawl started through the API travels over the broker to a worker that crawls a
registry on 127.0.0.1, and the chain verification queued from the audit page runs on a worker
and finds the chain whole.

Off unless PRODUCTION_TOPOLOGY_TESTS=1 (.ci/run sets it after starting the servers), and
skipped with the reason whenever a server is missing. Server URLs: TOPOLOGY_DATABASE_URL, else
DATABASE_URL (a PostgreSQL server: the test makes and drops its own database there, so the rest
of the suite may keep the embedded cluster), TOPOLOGY_REDIS_URL (redis://127.0.0.1:6379/0) and
TOPOLOGY_AMQP_URL (amqp://guest:guest@127.0.0.1:5672//).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import dj_database_url
import httpx
import orjson
import psycopg
import pytest
from cryptography.fernet import Fernet

from tests.fetch_server import wait_until
from tests.fixtures.registry_server import entry, example, running_registry
from tests.ingest_helpers import make_event
from tests.web_server import WebServer

pytestmark = pytest.mark.slow
BASE_DIR = Path(__file__).resolve().parents[2]
BROKERS = {
    "redis": os.environ.get("TOPOLOGY_REDIS_URL", "redis://127.0.0.1:6379/0"),
    "amqp": os.environ.get("TOPOLOGY_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//"),
}
WAIT_SECONDS = 90  # for a worker to boot or a job to finish on a busy 2-core machine
ADMIN = ("topology-admin", "correct-horse-battery-staple")


def _database_url() -> str:
    return os.environ.get("TOPOLOGY_DATABASE_URL") or os.environ.get("DATABASE_URL", "")


def _postgres_problem() -> str | None:
    if os.environ.get("PRODUCTION_TOPOLOGY_TESTS") != "1":
        return (
            "production topology test is off: set PRODUCTION_TOPOLOGY_TESTS=1 "
            "(.ci/run does) with TOPOLOGY_DATABASE_URL and the broker URLs"
        )
    if not _database_url():
        return "production topology test needs TOPOLOGY_DATABASE_URL or DATABASE_URL (PostgreSQL)"
    try:
        psycopg.connect(_server_dsn(), connect_timeout=5).close()
    except psycopg.Error as exc:
        return f"PostgreSQL (TOPOLOGY_DATABASE_URL) is not reachable: {exc}".splitlines()[0]
    return None


def _broker_problem(url: str) -> str | None:
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=5) as conn:
            conn.ensure_connection(max_retries=1, timeout=5)
    except Exception as exc:  # noqa: BLE001 - any failure means "not there": skip, say why
        return f"broker {url.split('@')[-1]} is not reachable: {type(exc).__name__}: {exc}"
    return None


def _server_dsn(dbname: str = "postgres") -> str:
    """A libpq connection string for the PostgreSQL server under test, on database `dbname`."""
    db = dj_database_url.parse(_database_url())
    parts = {
        "host": db.get("HOST"),
        "port": db.get("PORT"),
        "user": db.get("USER"),
        "password": db.get("PASSWORD"),
        "dbname": dbname,
    }
    return psycopg.conninfo.make_conninfo(**{k: v for k, v in parts.items() if v})


def _manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)}:\n{done.stderr[-3000:]}"
    return done.stdout


CREATE_ADMIN = f"""
from django.contrib.auth.models import Group, User
from governance.access.roles import ADMIN
user = User.objects.create_user({ADMIN[0]!r}, password={ADMIN[1]!r})
user.groups.add(Group.objects.get_or_create(name=ADMIN)[0])
"""


@dataclass
class Site:
    """The migrated database every topology of this module uses, and how to reach it."""

    name: str
    env: dict
    token: str

    def query(self, sql: str, params=()) -> list[tuple]:
        with psycopg.connect(_server_dsn(self.name)) as conn:
            return conn.execute(sql, params).fetchall()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    problem = _postgres_problem()
    if problem:
        pytest.skip(problem)
    name = f"topology_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_server_dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = _database_url().rsplit("/", 1)[0] + f"/{name}"
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "DJANGO_SETTINGS_MODULE": "governance.settings",
            "VAR_DIR": str(tmp_path_factory.mktemp("topology-var")),
            "SECRET_KEY": uuid.uuid4().hex * 2,
            "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
            "FETCH_ALLOWLIST": "127.0.0.1",
            "CELERY_TASK_ALWAYS_EAGER": "false",
            "PYTHONUNBUFFERED": "1",
            "DEMO_DATA": "0",
        }
        _manage(env, "migrate", "--noinput")
        _manage(env, "shell", "-c", CREATE_ADMIN)
        token = _manage(env, "create_source", "topology-gateway").strip()
        yield Site(name, env, token)
    finally:
        with psycopg.connect(_server_dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class CeleryWorker:
    """`celery -A governance worker` in its own process group, logging to a file."""

    def __init__(self, env: dict, name: str, log_path: Path):
        self.log_path = log_path
        with open(log_path, "w") as log_file:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "governance",
                    "worker",
                    "-n",
                    name,
                    "--concurrency=1",
                    "--loglevel=INFO",
                    "--without-gossip",
                    "--without-mingle",
                ],
                cwd=BASE_DIR,
                env=env,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while "ready." not in self.log():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"celery worker did not start:\n{self.log()[-3000:]}")
            time.sleep(0.2)

    def stop(self) -> None:
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 20)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.proc.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


@dataclass
class Topology:
    broker: str
    site: Site
    web: WebServer
    workers: list[CeleryWorker]


@pytest.fixture(params=sorted(BROKERS))
def topology(request, tmp_path):
    broker_url = BROKERS[request.param]
    problem = _postgres_problem() or _broker_problem(broker_url)
    if problem:
        pytest.skip(problem)
    site = request.getfixturevalue("site")  # after the checks: migrating takes seconds
    run = uuid.uuid4().hex[:8]
    # Its own queue, so nothing else using this broker takes its tasks or sends it theirs.
    env = {**site.env, "CELERY_BROKER_URL": broker_url, "CELERY_QUEUE": f"topology-{run}"}
    workers, web = [], None
    try:
        for i in (1, 2):
            workers.append(CeleryWorker(env, f"topology{i}-{run}@%h", tmp_path / f"worker{i}.log"))
        web = WebServer(workers=2, threads=4, env=env)
        for worker in workers:
            worker.wait_ready()
        yield Topology(request.param, site, web, workers)
    finally:
        if web is not None:
            web.kill()
        for worker in workers:
            worker.stop()


def _wait_for(what: str, probe):
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _ingest(topology: Topology) -> list[str]:
    events = [make_event() for _ in range(20)]
    response = httpx.post(
        f"{topology.web.url}/api/v1/events",
        content=orjson.dumps(events),
        headers={
            "Authorization": f"Bearer {topology.site.token}",
            "Content-Type": "application/json",
        },
        timeout=60,
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 20
    return [event["id"] for event in events]


def _logged_in(topology: Topology) -> httpx.Client:
    """A browser session of the admin (the API takes it too, with the CSRF header)."""
    browser = httpx.Client(base_url=topology.web.url, timeout=60)
    browser.get("/accounts/login/")
    login = browser.post(
        "/accounts/login/",
        data={
            "username": ADMIN[0],
            "password": ADMIN[1],
            "csrfmiddlewaretoken": browser.cookies["csrftoken"],
        },
    )
    assert login.status_code == 302, login.text[:500]
    browser.headers.update(
        {"X-CSRFToken": browser.cookies["csrftoken"], "Referer": f"{topology.web.url}/"}
    )
    return browser


def _crawl(browser: httpx.Client, broker: str) -> dict:
    """Add a registry on 127.0.0.1 and crawl it through the API; the crawl as it ended."""
    with running_registry([entry(example("context7")), entry(example("github"))]) as registry:
        created = browser.post(
            "/api/v1/registries/",
            json={"name": f"topology-{broker}", "base_url": registry.url, "kind": "private"},
        )
        assert created.status_code == 201, created.text
        started = browser.post(f"/api/v1/registries/{created.json()['id']}/crawl/", json={})
        assert started.status_code == 202, started.text
        crawl_id = started.json()["id"]
        crawl = _wait_for(
            "the crawl to finish", lambda: _finished(browser.get(f"/api/v1/crawls/{crawl_id}/"))
        )
        assert registry.requests, "the worker never called the registry"
    return crawl


def _finished(response: httpx.Response) -> dict | None:
    crawl = response.json()
    return crawl if crawl["status"] in ("done", "failed") else None


def test_the_production_topology_ingests_crawls_and_verifies_the_chain(topology):
    health = httpx.get(f"{topology.web.url}/healthz", timeout=30)
    assert health.json() == {"status": "ok", "database": "ok", "broker": "ok"}

    ids = _ingest(topology)
    stored = topology.site.query(
        "SELECT count(*) FROM audit_event WHERE event_id = ANY(%s)", (ids,)
    )
    assert stored == [(20,)]

    browser = _logged_in(topology)
    crawl = _crawl(browser, topology.broker)
    assert crawl["status"] == "done", crawl["error_log"]
    assert crawl["records"] == 2

    # What an auditor does on the audit page: press "verify now" (queued for a worker).
    assert browser.post("/audit/verify/").status_code == 302
    run = _wait_for(
        "the chain verification",
        lambda: topology.site.query(
            "SELECT ok, events_checked, problem FROM audit_chainverification "
            "WHERE triggered_by = 'celery' AND started_at >= %s",
            (crawl["queued_at"],),
        ),
    )
    ok, events_checked, problem = run[0]
    assert ok, problem
    assert events_checked >= 20

    def logs() -> str:  # "succeeded" is logged once a task returns, after its rows are written
        return "".join(worker.log() for worker in topology.workers)

    crawled = r"inventory\.[a-z_.]*run_crawl\[[^]]+\] succeeded"
    verified = r"audit\.tasks\.verify_audit_chain\[[^]]+\] succeeded"
    assert wait_until(lambda: re.search(crawled, logs()), timeout=30), logs()[-3000:]
    assert wait_until(lambda: re.search(verified, logs()), timeout=30), logs()[-3000:]
    assert all(worker.proc.poll() is None for worker in topology.workers)
