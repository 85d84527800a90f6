"""The MCP registry API (mcp-spec.md §8): one page of a registry's server list.

`GET {base}/v0.1/servers` (or `/v0/servers` when that is all a registry offers) with
`limit=100`, cursor pagination and `updated_since` for incremental crawls. 429 and transient
errors are retried with a bounded wait (REGISTRY_FETCH_ATTEMPTS, REGISTRY_MAX_RETRY_WAIT_SECONDS)
and a `Pacer` spaces one crawl's requests. Returns the page as parsed JSON; the crawler in
`inventory/services/registry.py` checks and writes it.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.conf import settings

from inventory.fetch import FetchError
from inventory.rate_limit import Pacer
from inventory.upstream.json_fetch import Retries, Timeouts, fetch_json

log = logging.getLogger(__name__)

API_PREFIXES = ("v0.1", "v0")  # stable first; v0 only when v0.1 is missing
PAGE_LIMIT = 100  # the registry API's maximum
MAX_BODY_BYTES = 10_000_000
MAX_REDIRECTS = 3
TIMEOUTS = Timeouts(connect=5.0, read=10.0, total=30.0)


def new_pacer() -> Pacer:
    """A pacer for one crawl (its waits never exceed REGISTRY_MAX_RETRY_WAIT_SECONDS)."""
    return Pacer(max_wait=settings.REGISTRY_MAX_RETRY_WAIT_SECONDS)


def page_url(base: str, prefix: str, *, cursor: str | None, since: str | None) -> str:
    params = {"limit": PAGE_LIMIT}
    if since:
        params["updated_since"] = since  # forces include_deleted on the registry side
    else:
        params["include_deleted"] = "true"  # a full crawl must see deletions too
    if cursor:
        params["cursor"] = cursor
    return f"{base}/{prefix}/servers?{urlencode(params)}"


def fetch_page(
    base: str,
    *,
    prefix: str | None,
    cursor: str | None,
    since: str | None,
    pacer: Pacer | None = None,
) -> tuple[object, str]:
    """One page of the server list (parsed JSON), and the API version that served it."""
    pacer = pacer or new_pacer()
    if prefix:
        return get_json(page_url(base, prefix, cursor=cursor, since=since), pacer=pacer), prefix
    for candidate in API_PREFIXES:
        try:
            return (
                get_json(page_url(base, candidate, cursor=cursor, since=since), pacer=pacer),
                candidate,
            )
        except FetchError as exc:
            if exc.status not in (404, 405) or candidate == API_PREFIXES[-1]:
                raise
            log.info("%s has no /%s API; trying the next version", base, candidate)
    raise AssertionError("unreachable")


def get_json(url: str, *, pacer: Pacer):
    """One registry request, paced, retrying 429 (Retry-After, bounded) and transient errors."""
    retries = Retries(
        attempts=settings.REGISTRY_FETCH_ATTEMPTS,
        max_wait=settings.REGISTRY_MAX_RETRY_WAIT_SECONDS,
    )
    return fetch_json(
        url,
        purpose="registry",
        timeouts=TIMEOUTS,
        max_bytes=MAX_BODY_BYTES,
        max_redirects=MAX_REDIRECTS,
        retries=retries,
        pacer=pacer,
    ).document
