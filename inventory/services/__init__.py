"""Inventory writes. Crawlers, ingestion and the UI change inventory only through these modules:

- `entities`: upserts of single identities, clients, servers, grants and tasks (UI, demo data);
- `derive`, `derive_tasks`: set-based upserts from a batch of audit events (the SQL contract
  with audit's ingest is `derive.statements`);
- `crawls`: crawl jobs (start, run, sweep) on the shared job engine; the runners are
  `registry`, `cimd` and `oauth_metadata`, which call `inventory/upstream/` for the network and
  keep the writes (with `registry_ingest`, `registry_history`, `cimd_flags`);
- `flags`, `task_expiry`: raising and resolving flags; `demo`, `demo_catalog`: the demo inventory;
- `finding_reconcile`, `inventory_rules`, `oauth_drift`, `rule_settings`: the finding rules over
  inventory state, set-based, under the Admin's settings (docs/findings.md).
"""
