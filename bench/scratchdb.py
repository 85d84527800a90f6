"""The benches' throwaway database: made afresh on DATABASE_URL's server, or in an embedded
cluster under PGDATA_DIR (var/pgbench) when DATABASE_URL is unset."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg


def fresh_database(name: str) -> bool:
    """Drop and create database `name` and point this process at it (DATABASE_URL, else
    EMBEDDED_DB_NAME); True when this call started the embedded cluster."""
    url = os.environ.get("DATABASE_URL")
    if url:
        parts = urlsplit(url)
        with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            c.execute(f'CREATE DATABASE "{name}"')
        os.environ["DATABASE_URL"] = urlunsplit(parts._replace(path=f"/{name}"))
        return False
    from governance.platform import devdb  # here: importing governance reads the settings

    os.environ["EMBEDDED_DB_NAME"] = name
    pgdata = Path(os.environ["PGDATA_DIR"]).resolve()
    started = devdb.ensure_running(pgdata)
    with psycopg.connect(
        host=str(devdb.socket_dir(pgdata)), user="postgres", dbname="postgres", autocommit=True
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    return started


def fresh_server_database(name: str) -> None:
    """fresh_database on DATABASE_URL's server, which must be set: for a bench whose web server
    and worker connect over TCP (the embedded cluster listens on a socket only)."""
    if not os.environ.get("DATABASE_URL"):
        raise SystemExit(
            "DATABASE_URL must name a PostgreSQL server (the bench creates its own database)"
        )
    fresh_database(name)
