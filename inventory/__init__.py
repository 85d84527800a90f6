"""Inventory: *what exists?* Identities, MCP clients (and their CIMD documents), servers (registry
versions, remotes, tools, OAuth metadata), registries, grants, tasks, flags, and the crawlers
that discover them.

Where new code goes:
- a fact about one row: a model method; a filter used in more than one place (a *rule*, such as
  "open flag", "running task", "expiring soon"): one QuerySet method in `models/`
  (`Flag.objects.open()`), spelled nowhere else;
- a write of any kind: `services/` (keyword-only functions, `transaction.atomic`, their own
  admin-action record via `governance.access.records`);
- a call to an upstream system: `upstream/` (one module per upstream, plain data out);
- a pure check of what an upstream returned: beside it (`registry_entries.py`,
  `cimd_checks.py`), reporting through `problems.problem()`;
- a list: a `ListSpec` in `queries.py` or `queries_discovery.py` (see governance/access/lists/);
- a job kind: see `services/crawls.py` and governance/platform/jobs.py;
- pages: `views*.py` (function views + htmx partials), the API: `api*.py`.

Inventory imports the shared layer (`governance.access`, `governance.platform`) and nothing of
audit or of governance's domain (`.importlinter` checks it).
"""
