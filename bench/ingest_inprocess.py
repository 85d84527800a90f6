"""The ingest benchmark's in-process measures (bench/ingest.py runs them after the HTTP ones):
(f) the floor of the database's share of (b), and a cProfile of the ingest service. They run
Django in the benchmark's own process, on the benchmark's database (`env`).
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import time
from datetime import UTC, datetime

from cputime import CpuMeter


def _django(env: dict) -> None:
    """Django in this process, on the benchmark's database."""
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "governance.settings")
    import django

    django.setup()


def bench_floor(events: list[dict], meter: CpuMeter, env: dict, connect) -> float:
    """(f) Only the two writes every acknowledged event needs, whatever the design: its
    exactly-once key (audit_event_dedup) and its row in the partitioned event table with the
    indexes the explorer reads, by COPY from the stage rows the endpoint would have made,
    1,000 a transaction, one connection. No dedup check, redaction, chain or derived state:
    a lower bound for the database's share of (b)."""
    _django(env)
    import orjson

    from audit import views_ingest
    from audit.models import EventSource
    from audit.services import ingest, partitions
    from audit.services.canon import CANON_COLUMNS
    from audit.services.validation import STAGE_COLUMNS

    floor_columns = CANON_COLUMNS[1:]  # every column of an event row but its generated id

    source = EventSource.objects.get(name="bench").pk
    col = {name: i for i, name in enumerate(STAGE_COLUMNS)}
    now, batches = datetime.now(UTC), []
    for start in range(0, len(events), 1000):  # the endpoint's parse and checks, not timed
        limits = ingest.current_limits()
        parsed, _ = views_ingest._parse(
            orjson.dumps(events[start : start + 1000]), "application/json", limits
        )
        rows, _ = ingest.prepare(parsed, ingest.IngestResult(), limits)
        values = {
            **{name: [r[col[name]] for r in rows] for name in STAGE_COLUMNS},
            "received_at": [now] * len(rows),
            "source_id": [source] * len(rows),
            "batch_id": [-start - 1] * len(rows),
        }  # no batch row: verification not asked
        batches.append(list(zip(*(values[name] for name in floor_columns))))
    partitions.ensure_for_times(row[0] for rows in batches for row in rows)
    with connect() as conn:
        meter.start()
        began = time.perf_counter()
        for rows in batches:
            with conn.cursor() as cur:
                with cur.copy(
                    "COPY audit_event_dedup (source_id, event_id, time) FROM STDIN"
                ) as copy:
                    for row in rows:
                        copy.write_row((source, row[4], row[0]))
                with cur.copy(f"COPY audit_event ({', '.join(floor_columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            conn.commit()
        elapsed = time.perf_counter() - began
        meter.stop()
    return len(events) / elapsed


def profile_service(token_source_events, env: dict) -> str:
    """cProfile of the ingest in this process (1,000-event JSON bodies: parse and validate as
    the endpoint does, then store) and the time split per event."""
    _django(env)
    import orjson

    from audit import views_ingest
    from audit.models import EventSource
    from audit.services import ingest

    source = EventSource.objects.get(name="bench")
    ingest.connection.ensure_connection()
    bodies = [
        orjson.dumps(token_source_events[i : i + 1000])
        for i in range(0, len(token_source_events), 1000)
    ]
    prep = store = 0.0
    profiler = cProfile.Profile()
    profiler.enable()
    for body in bodies:
        t0 = time.perf_counter()
        limits = ingest.current_limits()
        events, _ = views_ingest._parse(body, "application/json", limits)
        rows, reports = ingest.prepare(events, ingest.IngestResult(), limits)
        t1 = time.perf_counter()
        ingest._ensure_stage()
        ingest._store(source.pk, rows, reports)  # (accepted, batch id, ordinals)
        prep, store = prep + t1 - t0, store + time.perf_counter() - t1
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
    n = len(token_source_events)
    head = (
        f"in-process split per event (under cProfile): parse + validate + redact "
        f"{prep / n * 1e6:.1f} us, database (stage, dedup, insert, derive, rollups, batch row, "
        f"commit) {store / n * 1e6:.1f} us"
    )
    return head + "\n" + "\n".join(out.getvalue().splitlines()[:40])
