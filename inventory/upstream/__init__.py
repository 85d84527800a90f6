"""Calls to upstream systems: one module per upstream, on top of the safe fetcher.

- `json_fetch`: the one JSON fetch (`fetch_json`) every upstream uses, retrying rate limits and
  transient errors when asked to, and the timeouts each call states explicitly;
- `registry`: the MCP registry API (server list pages);
- `oauth_metadata`: RFC 9728 Protected Resource Metadata and RFC 8414 / OpenID authorization
  server metadata, and the unauthenticated MCP probe that names them;
- `cimd`: client ID metadata documents.

The rules for code here: network I/O only (every request through `inventory.fetch.safe_fetch`,
which also writes the fetch log), plain data out (dicts, dataclasses; never a model instance),
explicit timeouts, and never called inside `transaction.atomic()` (a slow upstream must not hold
a transaction open). The services in `inventory/services/` call these and keep the writes. A new
upstream system gets its own module here.
"""
