"""Sealing batches into the tamper-evidence chain, in commit order, outside the ingest commit.

Why a separate step: the chain has one head row. Taking its lock inside the ingest transaction
holds it across that transaction's durable commit (an fsync, ~3 ms here), which serialises
every ingest request behind the disk. The sealer instead locks the head, chains every
committed unsealed batch in id order, and commits without waiting for the flush
(synchronous_commit off): losing a seal in a crash only leaves batches unsealed, and the next
seal (the next request or the beat sweeper) seals them again. Batch content hashes are stored
durably by the ingest itself.
"""

from __future__ import annotations

import logging
import time

from django.db import connection, transaction

from audit.services.chain import GENESIS, link_digest

log = logging.getLogger(__name__)

PENDING_SQL = """
SELECT id, source_id, event_count, content_hash FROM audit_eventbatch
WHERE seq IS NULL ORDER BY id LIMIT %s
"""
SEAL_SQL = """
UPDATE audit_eventbatch b SET seq = v.seq, prev_digest = v.prev, digest = v.digest,
       sealed_at = clock_timestamp()
FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::text[]) AS v(id, seq, prev, digest)
WHERE b.id = v.id
"""


def seal_pending(*, limit: int = 50_000) -> int:
    """Chain every committed, unsealed batch (oldest id first); returns how many were sealed."""
    in_callers_transaction = connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if not in_callers_transaction:  # SET LOCAL would outlive the savepoint: the caller's
            cursor.execute("SET LOCAL synchronous_commit = off")  # commit must stay durable
        cursor.execute("SELECT seq, digest FROM audit_chainhead WHERE id = 1 FOR UPDATE")
        head = cursor.fetchone()
        if head is None:  # first use (or a test flush emptied it): start the chain
            cursor.execute(
                "INSERT INTO audit_chainhead (id, seq, digest) VALUES (1, 0, %s) "
                "ON CONFLICT (id) DO NOTHING",
                [GENESIS],
            )
            cursor.execute("SELECT seq, digest FROM audit_chainhead WHERE id = 1 FOR UPDATE")
            head = cursor.fetchone()
        seq, digest = head
        cursor.execute(PENDING_SQL, [limit])
        pending = cursor.fetchall()
        if not pending:
            return 0
        ids, seqs, prevs, digests = [], [], [], []
        for batch_id, source_id, count, content in pending:
            seq += 1
            ids.append(batch_id), seqs.append(seq), prevs.append(digest)
            digest = link_digest(digest, seq, batch_id, source_id, count, content)
            digests.append(digest)
        cursor.execute(SEAL_SQL, [ids, seqs, prevs, digests])
        cursor.execute(
            "UPDATE audit_chainhead SET seq = %s, digest = %s, batch_id = %s WHERE id = 1",
            [seq, digest, ids[-1]],
        )
    return len(pending)


SEAL_EVERY_SECONDS = 0.5
_last_seal = 0.0


def seal_after_ingest(*, in_transaction: bool = False) -> None:
    """Seal pending batches, at most every SEAL_EVERY_SECONDS per process (one seal chains
    every batch committed meanwhile, by any process); the beat sweeper covers the rest.
    Inside a caller's transaction the batch is sealed at once (it is not visible elsewhere).
    A failure is logged, never raised: the events are stored, the sweeper seals later."""
    global _last_seal
    now = time.monotonic()
    if not in_transaction and now - _last_seal < SEAL_EVERY_SECONDS:
        return
    _last_seal = now
    try:
        seal_pending()
    except Exception:  # noqa: BLE001 - the events are stored; sealing is retried by the sweeper
        log.exception("sealing the audit chain failed; the sweeper will retry")
