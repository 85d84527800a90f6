"""Monthly partitions of the events table: created ahead, on demand, dropped by retention.

Retention is per source, but partitions hold every source's events, so a month is dropped only
when it is older than the longest retention of any source (documented in docs/ingest.md).
Dedup keys outlive their partitions until AUDIT_MAX_EVENT_AGE_DAYS, the age beyond which an
event is refused anyway, so a late retry of a dropped event is still recognised as a duplicate.
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max

from audit.models import (
    ClientRollupHourly,
    EventRollupHourly,
    EventSource,
    IdentityRollupHourly,
    ServerRollupHourly,
)

log = logging.getLogger(__name__)

_known: set[tuple[int, int]] = set()  # months this process knows have a partition
PARTITION_RE = re.compile(r"^audit_event_p(\d{4})(\d{2})$")
ROLLUP_TABLES = tuple(
    model._meta.db_table
    for model in (EventRollupHourly, ServerRollupHourly, IdentityRollupHourly, ClientRollupHourly)
)


def forget_cache() -> None:
    _known.clear()


def ensure_for_times(times) -> None:
    """Make sure every month in `times` has a partition (a new month never fails an ingest)."""
    missing = sorted({(t.astimezone(UTC).year, t.astimezone(UTC).month) for t in times} - _known)
    if not missing:
        return
    with transaction.atomic(), connection.cursor() as cursor:
        for year, month in missing:
            cursor.execute(
                "SELECT audit_ensure_partition(%s)", [datetime(year, month, 1, tzinfo=UTC)]
            )
    # Only remembered after commit: a rolled-back creation must be retried next time.
    if not connection.in_atomic_block:
        _known.update(missing)


def ensure_ahead(*, months: int | None = None) -> list[str]:
    """Create this month's and the next `months` months' partitions (Celery beat, hourly)."""
    months = settings.AUDIT_PARTITIONS_AHEAD_MONTHS if months is None else months
    now = datetime.now(UTC)
    names = []
    with transaction.atomic(), connection.cursor() as cursor:
        for n in range(months + 1):
            year, month = divmod(now.month - 1 + n, 12)
            cursor.execute(
                "SELECT audit_ensure_partition(%s)",
                [datetime(now.year + year, month + 1, 1, tzinfo=UTC)],
            )
            names.append(cursor.fetchone()[0])
    return names


def list_partitions() -> list[tuple[str, datetime]]:
    """(name, first instant of its month) for every partition, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute("""SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                          WHERE i.inhparent = 'audit_event'::regclass ORDER BY c.relname""")
        names = [r[0] for r in cursor.fetchall()]
    found = []
    for name in names:
        match = PARTITION_RE.match(name)
        if match:
            found.append((name, datetime(int(match[1]), int(match[2]), 1, tzinfo=UTC)))
    return found


def apply_retention(*, now: datetime | None = None) -> list[str]:
    """Drop months older than every source's retention, and the rollups' hours in those months
    (a count must not outlive the events it counts: the dashboard and the explorer agree);
    purge dedup keys past the max age."""
    now = now or datetime.now(UTC)
    longest = EventSource.objects.aggregate(m=Max("retention_days"))["m"]
    dropped = []
    if longest:
        cutoff = now - timedelta(days=longest)
        for name, start in list_partitions():
            end = (start + timedelta(days=32)).replace(day=1)
            if end <= cutoff:
                with connection.cursor() as cursor:
                    cursor.execute(f'DROP TABLE "{name}"')
                dropped.append(name)
                log.info("audit retention dropped partition %s (before %s)", name, cutoff.date())
        # Every month before the cutoff's is gone now and every later one kept: the rollups'
        # hours go at the same boundary, not at the cutoff itself, which falls mid-month.
        kept_from = datetime(cutoff.year, cutoff.month, 1, tzinfo=UTC)
        with connection.cursor() as cursor:
            for table in ROLLUP_TABLES:
                cursor.execute(f"DELETE FROM {table} WHERE hour < %s", [kept_from])
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM audit_event_dedup WHERE time < %s",
            [now - timedelta(days=settings.AUDIT_MAX_EVENT_AGE_DAYS)],
        )
        cursor.execute(
            "DELETE FROM audit_rate_window WHERE window_start < %s", [now - timedelta(minutes=5)]
        )
    forget_cache()
    return dropped
