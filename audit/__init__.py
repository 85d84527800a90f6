"""Audit: *what happened?* Event sources and their tokens, the append-only partitioned event
store, native and OTLP ingestion, the integrity chain, rollups and the explorer.

Where new code goes:
- a write (ingest, sources, partitions, the chain): `services/`; the ingest hot path stays
  set-based (one round trip per batch) and its derived-state SQL comes from inventory through
  `inventory.services.derive.statements()`, the one contract between the two apps;
- a read shared by pages, API and exports: `queries.py` (rollups, overview numbers) or
  `queries_explorer.py` (the explorer's keyset pages and filters);
- HTTP: `views.py` (pages), `views_ingest.py` / `views_otlp.py` (the ingest endpoints),
  `api.py` (DRF); the WSGI fast path for ingest is `wsgi_fast.py`.

Audit may import inventory (ingest derives inventory's state) and the shared layer
(`governance.access`, `governance.platform`), never governance's domain (`.importlinter`).
"""
