"""Inventory writes. Crawlers, ingestion and the UI change inventory only through these modules:

- `entities`: upserts of single identities, clients, servers, grants and tasks (UI, demo data);
- `derive`: set-based upserts from a batch of audit events (ingestion's derived state);
- `discovery`: what registry, CIMD and OAuth-metadata crawls write.
"""
