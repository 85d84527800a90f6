"""URL names follow one form, `app:model_action` (`inventory:server_list`, `api:registry_crawl`):
the walk covers every named route, so a new route with an odd name fails here until its noun or
action is added below on purpose."""

import re

from django.urls import URLPattern, URLResolver, get_resolver, reverse

FORM = re.compile(r"^[a-z]+:[a-z_]+$")
NAMESPACES = {
    "governance",
    "inventory",
    "audit",
    "api",
    "containment",
    "alerts",
    "findings",
    "reviews",
    "reports",
}
# Django's admin names its own routes (`admin:auth_user_changelist`, `admin:jsi18n`).
DJANGO_NAMESPACES = {"admin"}

# The model (or page) a route is about, snake_case of the model's class name where there is one.
NOUNS = {
    # inventory
    "identity",
    "client",
    "client_document",
    "server",
    "server_remote",
    "server_change",
    "grant",
    "task",
    "flag",
    "finding",  # governance/findings
    "finding_rule",
    "registry",
    "crawl",
    "fetch_record",
    "authorization_server",
    "url_elicitation",
    "elicitation_origin_allowance",
    "site_setting",
    # audit
    "event",
    "audit_event",
    "event_source",
    "source",
    "chain",
    "trace",
    "log",
    # governance
    "overview",
    "home",
    "admin_action",
    "user",
    "user_role",
    "lockout",
    "api_token",
    "idp_connection",
    "idp_sync",
    "revocation",
    "destination",  # alerts: where findings and audit events go
    "alert_destination",  # the same in the API
    "dead_letter",  # a delivery that ran out of attempts
    "campaign",  # an access-review campaign (governance/reviews)
    "review_campaign",
    "review_item",
    "report_run",  # a report asked for and its file (governance/reports)
    "report_schedule",
    "account",
    "sso",  # company sign-in (governance/sso)
    "password",
    "health",
    # api
    "root",
    "schema",
    "docs",
}
# What the route does with it; a name that is a noun alone is the page itself (`overview`).
ACTIONS = {
    "list",
    "detail",
    "create",
    "update",
    "delete",  # an Admin removes what it added (an allowed elicitation origin)
    "review",
    "toggle",
    "start",
    "crawl",
    "discover",
    "refetch",
    "panel",
    "diff",
    "history",
    "export",
    "verify",
    "ingest",
    "schema",
    "unlock",
    "revoke",
    "login",
    "logout",
    "change",
    "change_done",
    "check",
    "test",
    "rotate",
    "sync",
    "callback",  # where the IdP sends the browser back
    "cancel_hook",  # an event source's cancel hook (set / remove)
    "suggest",
    "activity",
    "undo",
    "plan",
    "replay",  # dead letters queued again
    "send_test",  # the API's "send test" on a destination
    # findings triage (governance/findings): one finding, or the ticked ones of the list
    "acknowledge",
    "resolve",
    "suppress",
    "reopen",
    "assign",
    "bulk",
    "close",  # an access-review campaign
    "record",  # a closed campaign's frozen record
    "items",
    "decide",
    "bulk_decide",
    "download",  # a report's file (recorded)
}


def _names(resolver=None, namespace=""):
    """(namespace:name, route) of every named URL pattern, walked from the URL conf."""
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            inner = ":".join(n for n in (namespace, entry.namespace) if n)
            yield from _names(entry, inner if entry.namespace else namespace)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}:{entry.name}" if namespace else entry.name, str(entry.pattern)


def _console_names():
    return [
        (name, route) for name, route in _names() if name.split(":")[0] not in DJANGO_NAMESPACES
    ]


def _is_model_action(name: str) -> bool:
    return any(
        name == noun or (name.startswith(noun + "_") and name[len(noun) + 1 :] in ACTIONS)
        for noun in NOUNS
    )


def test_every_named_route_is_app_colon_model_action():
    names = _console_names()
    assert len(names) > 80  # the walk found the URL conf, pages and API
    odd = [
        f"{name} ({route})"
        for name, route in names
        if not FORM.match(name)
        or name.split(":")[0] not in NAMESPACES
        or not _is_model_action(name.split(":")[1])
    ]
    assert odd == [], "name these app:model_action, or add the noun/action on purpose"


def test_no_two_routes_share_a_name():
    names = [name for name, _ in _console_names()]
    assert sorted({n for n in names if names.count(n) > 1}) == []


def test_renamed_routes_keep_the_paths_they_always_had():
    assert reverse("inventory:server_list") == "/inventory/servers/"
    assert reverse("api:server_list") == "/api/v1/servers/"
    assert reverse("api:registry_crawl", args=[7]) == "/api/v1/registries/7/crawl/"
    assert reverse("audit:event_ingest") == "/api/v1/events"
    assert reverse("audit:trace_ingest") == "/v1/traces"
    assert reverse("governance:account_login") == "/accounts/login/"
