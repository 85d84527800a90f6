"""Who may do what, for every URL the console serves: one table, the README's role table in full.

Each row: a route (as the URL resolver spells it), the request made, and the status expected for
anonymous / a logged-in user with no role / Viewer / Auditor / Admin. Actions that would change
something are posted for an object that does not exist: the role check comes first, so a role
that may act gets 404 and one that may not gets 403, and nothing is changed.

The last test walks the URL resolver: a new URL without a row here fails it.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from governance.access.roles import ADMIN, AUDITOR, VIEWER
from governance.alerts.models import Destination
from tests.api_rows import one_of_everything

pytestmark = pytest.mark.django_db

ROLES = ("anonymous", "no role", VIEWER, AUDITOR, ADMIN)
MISSING = 999999  # the pk of an object that does not exist

# Statuses for (anonymous, no role, Viewer, Auditor, Admin). Pages send anonymous users to the
# login page (302); the API answers 401.
PAGE_VIEWER = (302, 403, 200, 200, 200)
PAGE_AUDITOR = (302, 403, 403, 200, 200)
PAGE_ADMIN = (302, 403, 403, 403, 200)
ACT_AUDITOR = (302, 403, 403, 302, 302)  # a POST that redirects when done
ACT_ADMIN_MISSING = (302, 403, 403, 403, 404)  # a POST on an object that does not exist
ACT_ADMIN = (302, 403, 403, 403, 302)  # an Admin's POST that redirects when done
API_VIEWER = (401, 403, 200, 200, 200)
API_AUDITOR = (401, 403, 403, 200, 200)
API_ADMIN = (401, 403, 403, 403, 200)
API_ADMIN_MISSING = (401, 403, 403, 403, 404)
API_ADMIN_INVALID = (401, 403, 403, 403, 400)  # a write with an empty body
AUDITOR_MISSING = (302, 403, 403, 404, 404)  # an Auditor's page of an object that does not exist
AUDITOR_INVALID = (302, 403, 403, 400, 400)  # an Auditor's form posted empty
ADMIN_INVALID = (302, 403, 403, 403, 400)  # an Admin's form posted empty
API_AUDITOR = (401, 403, 403, 200, 200)
API_AUDITOR_MISSING = (401, 403, 403, 404, 404)
API_AUDITOR_INVALID = (401, 403, 403, 400, 400)
LOGGED_IN = (302, 200, 200, 200, 200)  # the user's own account pages
PUBLIC = (200, 200, 200, 200, 200)
TOKEN_ONLY = (401, 401, 401, 401, 401)  # ingest takes a source's bearer token, not a session


def _api_reads(resource: str, key: str, expected: tuple = API_VIEWER) -> dict:
    """The two rows of a read-only API resource: its list and one object's detail ({key})."""
    return {
        f"api/v1/^{resource}/$": [("GET", f"/api/v1/{resource}/", expected)],
        f"api/v1/^{resource}/(?P<pk>[^/.]+)/$": [
            ("GET", f"/api/v1/{resource}/{{{key}}}/", expected)
        ],
    }


# route (as the resolver spells it) -> [(method, path, expected), ...]; {name} is the pk of
# that object from tests/api_rows.py.
MATRIX: dict[str, list[tuple[str, str, tuple]]] = {
    # Public and account pages.
    "healthz": [("GET", "/healthz", PUBLIC)],
    "accounts/login/": [("GET", "/accounts/login/", PUBLIC)],
    # Company sign-in: public, and not found while OIDC_ISSUER is unset (test_sso.py walks it).
    "accounts/oidc/login/": [("POST", "/accounts/oidc/login/", (404,) * 5)],
    "accounts/oidc/callback/": [("GET", "/accounts/oidc/callback/", (404,) * 5)],
    "accounts/password/": [("GET", "/accounts/password/", LOGGED_IN)],
    "accounts/password/done/": [("GET", "/accounts/password/done/", LOGGED_IN)],
    # The Django admin: Admins who are also staff (every user here is staff).
    "admin/": [("GET", "/admin/", (302, 302, 302, 302, 200))],
    # Overview and governance.
    "": [("GET", "/", PAGE_VIEWER)],
    "governance/": [("GET", "/governance/", PAGE_VIEWER)],
    "governance/actions/": [("GET", "/governance/actions/", PAGE_ADMIN)],
    "governance/actions/<int:pk>/": [("GET", "/governance/actions/{action}/", PAGE_ADMIN)],
    "governance/users/": [("GET", "/governance/users/", PAGE_ADMIN)],
    "governance/users/<int:pk>/role/": [
        ("POST", f"/governance/users/{MISSING}/role/", ACT_ADMIN_MISSING)
    ],
    "governance/users/<int:pk>/unlock/": [
        ("POST", f"/governance/users/{MISSING}/unlock/", ACT_ADMIN_MISSING)
    ],
    "governance/lockouts/unlock/": [
        ("POST", "/governance/lockouts/unlock/", (302, 403, 403, 403, 400))
    ],  # empty form
    # API tokens: everyone with a role manages their own (a missing token is a 404 to all).
    "governance/api-tokens/": [
        ("GET", "/governance/api-tokens/", PAGE_VIEWER),
        ("POST", "/governance/api-tokens/", (302, 403, 400, 400, 400)),
    ],
    "governance/api-tokens/<int:pk>/revoke/": [
        ("POST", f"/governance/api-tokens/{MISSING}/revoke/", (302, 403, 404, 404, 404))
    ],
    # Identity providers: Viewers read, Admins change, test and sync.
    "governance/idp/": [("GET", "/governance/idp/", PAGE_VIEWER)],
    "governance/idp/new/": [("GET", "/governance/idp/new/", PAGE_ADMIN)],
    "governance/idp/<int:pk>/": [("GET", "/governance/idp/{idp}/", PAGE_VIEWER)],
    "governance/idp/<int:pk>/edit/": [("GET", "/governance/idp/{idp}/edit/", PAGE_ADMIN)],
    "governance/idp/<int:pk>/test/": [
        ("POST", f"/governance/idp/{MISSING}/test/", ACT_ADMIN_MISSING)
    ],
    "governance/idp/<int:pk>/rotate/": [
        ("POST", f"/governance/idp/{MISSING}/rotate/", ACT_ADMIN_MISSING)
    ],
    "governance/idp/<int:pk>/toggle/": [
        ("POST", f"/governance/idp/{MISSING}/toggle/", ACT_ADMIN_MISSING)
    ],
    "governance/idp/<int:pk>/sync/": [
        ("POST", f"/governance/idp/{MISSING}/sync/", ACT_ADMIN_MISSING)
    ],
    "governance/idp/syncs/<int:pk>/": [("GET", "/governance/idp/syncs/{idp_sync}/", PAGE_VIEWER)],
    # Revocations: Viewers follow them; only Admins reach a confirm page, start one or undo one.
    "governance/revocations/": [("GET", "/governance/revocations/", PAGE_VIEWER)],
    "governance/revocations/<int:pk>/": [
        ("GET", "/governance/revocations/{revocation}/", PAGE_VIEWER)
    ],
    "governance/revocations/new/<str:action>/": [
        ("GET", "/governance/revocations/new/grant/?grant={grant}", PAGE_ADMIN),
        ("POST", f"/governance/revocations/new/grant/?grant={MISSING}", ACT_ADMIN_MISSING),
        ("POST", f"/governance/revocations/new/client/?client={MISSING}", ACT_ADMIN_MISSING),
    ],
    # Reports: Auditors and Admins make and download them; Admins change schedules.
    "governance/reports/": [("GET", "/governance/reports/", PAGE_AUDITOR)],
    "governance/reports/new/": [
        ("GET", "/governance/reports/new/", PAGE_AUDITOR),
        ("POST", "/governance/reports/new/", AUDITOR_INVALID),
    ],
    "governance/reports/<int:pk>/": [("GET", f"/governance/reports/{MISSING}/", AUDITOR_MISSING)],
    "governance/reports/<int:pk>/download/": [
        ("GET", f"/governance/reports/{MISSING}/download/", AUDITOR_MISSING)
    ],
    "governance/reports/schedules/": [("GET", "/governance/reports/schedules/", PAGE_AUDITOR)],
    "governance/reports/schedules/new/": [
        ("GET", "/governance/reports/schedules/new/", PAGE_ADMIN),
        ("POST", "/governance/reports/schedules/new/", ADMIN_INVALID),
    ],
    "governance/reports/schedules/<int:pk>/": [
        ("GET", f"/governance/reports/schedules/{MISSING}/", ACT_ADMIN_MISSING),
        ("POST", f"/governance/reports/schedules/{MISSING}/", ACT_ADMIN_MISSING),
    ],
    "governance/reports/schedules/<int:pk>/delete/": [
        ("POST", f"/governance/reports/schedules/{MISSING}/delete/", ACT_ADMIN_MISSING)
    ],
    "governance/revocations/<int:pk>/undo/": [
        ("GET", f"/governance/revocations/{MISSING}/undo/", ACT_ADMIN_MISSING),
        ("POST", f"/governance/revocations/{MISSING}/undo/", ACT_ADMIN_MISSING),
    ],
    # Alert destinations: Auditors read (incl. dead letters); Admins change, test and replay.
    "governance/alerts/": [("GET", "/governance/alerts/", PAGE_AUDITOR)],
    "governance/alerts/new/": [("GET", "/governance/alerts/new/", PAGE_ADMIN)],
    "governance/alerts/<int:pk>/": [("GET", "/governance/alerts/{destination}/", PAGE_AUDITOR)],
    "governance/alerts/<int:pk>/edit/": [
        ("GET", "/governance/alerts/{destination}/edit/", PAGE_ADMIN)
    ],
    "governance/alerts/<int:pk>/delete/": [
        ("GET", "/governance/alerts/{destination}/delete/", PAGE_ADMIN),
        ("POST", f"/governance/alerts/{MISSING}/delete/", ACT_ADMIN_MISSING),
    ],
    "governance/alerts/<int:pk>/test/": [
        ("POST", f"/governance/alerts/{MISSING}/test/", ACT_ADMIN_MISSING)
    ],
    "governance/alerts/dead-letters/": [("GET", "/governance/alerts/dead-letters/", PAGE_AUDITOR)],
    "governance/alerts/dead-letters/replay/": [
        ("POST", "/governance/alerts/dead-letters/replay/", ACT_ADMIN)  # nothing chosen
    ],
    # Findings: everyone reads, Admins triage and change the rules.
    "governance/findings/": [("GET", "/governance/findings/", PAGE_VIEWER)],
    "governance/findings/bulk/": [
        ("POST", "/governance/findings/bulk/", (302, 403, 403, 403, 400))
    ],  # empty form
    "governance/findings/rules/": [("GET", "/governance/findings/rules/", PAGE_VIEWER)],
    "governance/findings/rules/<str:kind>/": [
        ("POST", "/governance/findings/rules/no.such_rule/", ACT_ADMIN_MISSING)
    ],
    "governance/findings/<int:pk>/": [("GET", "/governance/findings/{flag}/", PAGE_VIEWER)],
    "governance/findings/<int:pk>/<str:action>/": [
        ("POST", f"/governance/findings/{MISSING}/acknowledge/", ACT_ADMIN_MISSING)
    ],
    # Access reviews: Viewers read and decide their own items; only Admins open and close.
    "governance/reviews/": [("GET", "/governance/reviews/", PAGE_VIEWER)],
    "governance/reviews/new/": [("GET", "/governance/reviews/new/", PAGE_ADMIN)],
    "governance/reviews/mine/": [("GET", "/governance/reviews/mine/", PAGE_VIEWER)],
    "governance/reviews/mine/decide/": [
        ("POST", "/governance/reviews/mine/decide/", (302, 403, 302, 302, 302))
    ],  # empty form: back to the queue with the error
    "governance/reviews/items/<int:pk>/decide/": [
        ("POST", f"/governance/reviews/items/{MISSING}/decide/", (302, 403, 404, 404, 404))
    ],
    "governance/reviews/<int:pk>/": [
        ("GET", "/governance/reviews/{review_campaign}/", PAGE_VIEWER)
    ],
    "governance/reviews/<int:pk>/close/": [
        ("GET", f"/governance/reviews/{MISSING}/close/", ACT_ADMIN_MISSING),
        ("POST", f"/governance/reviews/{MISSING}/close/", ACT_ADMIN_MISSING),
    ],
    "governance/reviews/<int:pk>/record/": [
        ("GET", "/governance/reviews/{review_campaign}/record/", PAGE_VIEWER)
    ],
    "governance/reviews/<int:pk>/record.json": [
        ("GET", "/governance/reviews/{review_campaign}/record.json", PAGE_AUDITOR)
    ],
    # Inventory pages.
    "inventory/identities/": [("GET", "/inventory/identities/", PAGE_VIEWER)],
    "inventory/identities/<int:pk>/": [("GET", "/inventory/identities/{alice}/", PAGE_VIEWER)],
    "inventory/clients/": [("GET", "/inventory/clients/", PAGE_VIEWER)],
    "inventory/clients/<int:pk>/": [("GET", "/inventory/clients/{cursor}/", PAGE_VIEWER)],
    "inventory/clients/<int:pk>/review/": [
        ("POST", f"/inventory/clients/{MISSING}/review/", ACT_ADMIN_MISSING)
    ],
    "inventory/servers/": [("GET", "/inventory/servers/", PAGE_VIEWER)],
    "inventory/servers/<int:pk>/": [("GET", "/inventory/servers/{crm}/", PAGE_VIEWER)],
    "inventory/servers/<int:pk>/review/": [
        ("POST", f"/inventory/servers/{MISSING}/review/", ACT_ADMIN_MISSING)
    ],
    "inventory/servers/<int:pk>/registry-history/": [
        ("GET", "/inventory/servers/{crm}/registry-history/", PAGE_VIEWER)
    ],
    "inventory/grants/": [("GET", "/inventory/grants/", PAGE_VIEWER)],
    "inventory/grants/<int:pk>/": [("GET", "/inventory/grants/{grant}/", PAGE_VIEWER)],
    "inventory/grants/export.csv": [("GET", "/inventory/grants/export.csv", PAGE_AUDITOR)],
    "inventory/tasks/": [("GET", "/inventory/tasks/", PAGE_VIEWER)],
    "inventory/tasks/<int:pk>/": [("GET", "/inventory/tasks/{task}/", PAGE_VIEWER)],
    "inventory/flags/": [("GET", "/inventory/flags/", PAGE_VIEWER)],
    "inventory/elicitations/": [("GET", "/inventory/elicitations/", PAGE_VIEWER)],
    "inventory/servers/<int:pk>/elicitation-origins/": [
        ("POST", f"/inventory/servers/{MISSING}/elicitation-origins/", ACT_ADMIN_MISSING)
    ],
    "inventory/elicitation-origins/<int:pk>/delete/": [
        ("POST", f"/inventory/elicitation-origins/{MISSING}/delete/", ACT_ADMIN_MISSING)
    ],
    "inventory/protocol/minimum-revision/": [
        ("POST", "/inventory/protocol/minimum-revision/", ACT_ADMIN)
    ],
    # Discovery pages: Viewers read, Admins configure and start crawls.
    "inventory/discovery/": [("GET", "/inventory/discovery/", PAGE_VIEWER)],
    "inventory/discovery/crawls/<int:pk>/": [
        ("GET", "/inventory/discovery/crawls/{crawl}/", PAGE_VIEWER)
    ],
    "inventory/discovery/registries/new/": [
        ("GET", "/inventory/discovery/registries/new/", PAGE_ADMIN)
    ],
    "inventory/discovery/registries/<int:pk>/edit/": [
        ("GET", "/inventory/discovery/registries/{registry}/edit/", PAGE_ADMIN)
    ],
    "inventory/discovery/registries/<int:pk>/toggle/": [
        ("POST", f"/inventory/discovery/registries/{MISSING}/toggle/", ACT_ADMIN_MISSING)
    ],
    "inventory/discovery/registries/<int:pk>/crawl/": [
        ("POST", f"/inventory/discovery/registries/{MISSING}/crawl/", ACT_ADMIN_MISSING)
    ],
    "inventory/discovery/fetches/": [("GET", "/inventory/discovery/fetches/", PAGE_VIEWER)],
    "inventory/discovery/cimd/": [("GET", "/inventory/discovery/cimd/", PAGE_VIEWER)],
    "inventory/discovery/cimd/add/": [
        ("POST", "/inventory/discovery/cimd/add/", (302, 403, 403, 403, 400))
    ],
    "inventory/discovery/cimd/sweep/": [
        ("POST", "/inventory/discovery/cimd/sweep/", (302, 403, 403, 403, 302))
    ],
    "inventory/discovery/cimd/<int:pk>/": [
        ("GET", "/inventory/discovery/cimd/{cursor}/", PAGE_VIEWER)
    ],
    "inventory/discovery/cimd/<int:pk>/panel/": [
        ("GET", "/inventory/discovery/cimd/{cursor}/panel/", PAGE_VIEWER)
    ],
    "inventory/discovery/cimd/<int:pk>/refetch/": [
        ("POST", f"/inventory/discovery/cimd/{MISSING}/refetch/", ACT_ADMIN_MISSING)
    ],
    "inventory/discovery/cimd/versions/<int:pk>/diff/": [
        ("GET", "/inventory/discovery/cimd/versions/{document}/diff/", PAGE_VIEWER)
    ],
    "inventory/discovery/oauth/": [("GET", "/inventory/discovery/oauth/", PAGE_VIEWER)],
    "inventory/discovery/oauth/<int:pk>/": [
        ("GET", "/inventory/discovery/oauth/{auth}/", PAGE_VIEWER)
    ],
    "inventory/discovery/oauth/crawl/": [
        ("POST", "/inventory/discovery/oauth/crawl/", (302, 403, 403, 403, 302))
    ],
    "inventory/discovery/oauth/remotes/<int:pk>/discover/": [
        ("POST", f"/inventory/discovery/oauth/remotes/{MISSING}/discover/", ACT_ADMIN_MISSING)
    ],
    # Audit pages: everyone reads events; payloads, exports and verification are Auditors'.
    "audit/": [("GET", "/audit/", PAGE_VIEWER)],
    "audit/events/<int:pk>/": [("GET", "/audit/events/{event}/", PAGE_VIEWER)],
    "audit/suggest/<str:kind>/": [("GET", "/audit/suggest/identity/?identity=al", PAGE_VIEWER)],
    "audit/identities/<int:pk>/activity/": [
        ("GET", "/audit/identities/{alice}/activity/", PAGE_VIEWER)
    ],
    "audit/export.<export_format:fmt>": [
        ("GET", "/audit/export.csv", PAGE_AUDITOR),
        ("GET", "/audit/export.ndjson", PAGE_AUDITOR),
    ],
    "audit/verify/": [("POST", "/audit/verify/", ACT_AUDITOR)],
    "audit/sources/": [("GET", "/audit/sources/", PAGE_ADMIN)],
    "audit/sources/<int:pk>/": [("GET", "/audit/sources/{source}/", PAGE_ADMIN)],
    "audit/sources/<int:pk>/<str:action>/": [
        ("POST", f"/audit/sources/{MISSING}/disable/", ACT_ADMIN_MISSING)
    ],
    # Ingestion: a source's bearer token; a console session is not one.
    "api/v1/events": [("POST", "/api/v1/events", TOKEN_ONLY)],
    "api/v1/events/": [("POST", "/api/v1/events/", TOKEN_ONLY)],
    "api/v1/events/schema": [("GET", "/api/v1/events/schema", PUBLIC)],
    "v1/traces": [("POST", "/v1/traces", TOKEN_ONLY)],
    "v1/logs": [("POST", "/v1/logs", TOKEN_ONLY)],
    # The REST API.
    "api/v1/schema/": [("GET", "/api/v1/schema/", API_VIEWER)],
    "api/v1/docs/": [("GET", "/api/v1/docs/", API_VIEWER)],
    "api/v1/": [("GET", "/api/v1/", API_VIEWER)],
    **_api_reads("identities", "alice"),
    **_api_reads("clients", "cursor"),
    **_api_reads("servers", "crm"),
    **_api_reads("grants", "grant"),
    **_api_reads("tasks", "task"),
    **_api_reads("flags", "flag"),
    **_api_reads("url-elicitations", "elicitation"),
    "api/v1/^registries/$": [
        ("GET", "/api/v1/registries/", API_VIEWER),
        ("POST", "/api/v1/registries/", API_ADMIN_INVALID),
    ],
    "api/v1/^registries/(?P<pk>[^/.]+)/$": [
        ("GET", "/api/v1/registries/{registry}/", API_VIEWER),
        ("PATCH", f"/api/v1/registries/{MISSING}/", API_ADMIN_MISSING),
    ],
    "api/v1/^registries/(?P<pk>[^/.]+)/crawl/$": [
        ("POST", f"/api/v1/registries/{MISSING}/crawl/", API_ADMIN_MISSING)
    ],
    **_api_reads("crawls", "crawl"),
    **_api_reads("server-changes", "change"),
    **_api_reads("fetch-records", "fetch"),
    **_api_reads("client-documents", "document"),
    **_api_reads("authorization-servers", "auth"),
    **_api_reads("audit-events", "event"),
    **_api_reads("event-sources", "source", API_ADMIN),
    "api/v1/^event-sources/(?P<pk>[^/.]+)/cancel-hook/$": [
        ("POST", f"/api/v1/event-sources/{MISSING}/cancel-hook/", API_ADMIN_MISSING),
        ("DELETE", f"/api/v1/event-sources/{MISSING}/cancel-hook/", API_ADMIN_MISSING),
    ],
    **_api_reads("idp-connections", "idp"),
    **_api_reads("idp-syncs", "idp_sync"),
    "api/v1/^idp-connections/(?P<pk>[^/.]+)/sync/$": [
        ("POST", f"/api/v1/idp-connections/{MISSING}/sync/", API_ADMIN_MISSING)
    ],
    "api/v1/^alert-destinations/$": [
        ("GET", "/api/v1/alert-destinations/", API_AUDITOR),
        ("POST", "/api/v1/alert-destinations/", API_ADMIN_INVALID),
    ],
    "api/v1/^alert-destinations/(?P<pk>[^/.]+)/$": [
        ("GET", "/api/v1/alert-destinations/{destination}/", API_AUDITOR),
        ("PATCH", f"/api/v1/alert-destinations/{MISSING}/", API_ADMIN_MISSING),
        ("DELETE", f"/api/v1/alert-destinations/{MISSING}/", API_ADMIN_MISSING),
    ],
    "api/v1/^alert-destinations/(?P<pk>[^/.]+)/send-test/$": [
        ("POST", f"/api/v1/alert-destinations/{MISSING}/send-test/", API_ADMIN_MISSING)
    ],
    "api/v1/^alert-dead-letters/$": [("GET", "/api/v1/alert-dead-letters/", API_AUDITOR)],
    "api/v1/^alert-dead-letters/replay/$": [
        ("POST", "/api/v1/alert-dead-letters/replay/", API_ADMIN_INVALID)
    ],
    "api/v1/^review-campaigns/$": [
        ("GET", "/api/v1/review-campaigns/", API_VIEWER),
        ("POST", "/api/v1/review-campaigns/", API_ADMIN_INVALID),
    ],
    "api/v1/^review-campaigns/(?P<pk>[^/.]+)/$": [
        ("GET", "/api/v1/review-campaigns/{review_campaign}/", API_VIEWER)
    ],
    "api/v1/^review-campaigns/(?P<pk>[^/.]+)/items/$": [
        ("GET", "/api/v1/review-campaigns/{review_campaign}/items/", API_VIEWER)
    ],
    "api/v1/^review-campaigns/(?P<pk>[^/.]+)/close/$": [
        ("POST", f"/api/v1/review-campaigns/{MISSING}/close/", API_ADMIN_MISSING)
    ],
    **_api_reads("review-items", "review_item"),
    "api/v1/^review-items/(?P<pk>[^/.]+)/decide/$": [
        ("POST", f"/api/v1/review-items/{MISSING}/decide/", (401, 403, 404, 404, 404))
    ],
    "api/v1/^review-items/bulk-decide/$": [
        ("POST", "/api/v1/review-items/bulk-decide/", (401, 403, 400, 400, 400))
    ],
    "api/v1/^reports/$": [
        ("GET", "/api/v1/reports/", API_AUDITOR),
        ("POST", "/api/v1/reports/", API_AUDITOR_INVALID),
    ],
    "api/v1/^reports/(?P<pk>[^/.]+)/$": [
        ("GET", f"/api/v1/reports/{MISSING}/", API_AUDITOR_MISSING)
    ],
    "api/v1/^reports/(?P<pk>[^/.]+)/download/$": [
        ("GET", f"/api/v1/reports/{MISSING}/download/", API_AUDITOR_MISSING)
    ],
    "api/v1/^revocations/$": [
        ("GET", "/api/v1/revocations/", API_VIEWER),
        ("POST", "/api/v1/revocations/", API_ADMIN_INVALID),
    ],
    "api/v1/^revocations/(?P<pk>[^/.]+)/$": [
        ("GET", "/api/v1/revocations/{revocation}/", API_VIEWER)
    ],
    "api/v1/^revocations/plan/$": [("POST", "/api/v1/revocations/plan/", API_ADMIN_INVALID)],
    "api/v1/^revocations/(?P<pk>[^/.]+)/undo/$": [
        ("POST", f"/api/v1/revocations/{MISSING}/undo/", API_ADMIN_MISSING)
    ],
    **_api_reads("findings", "flag"),
    **{
        f"api/v1/^findings/(?P<pk>[^/.]+)/{verb}/$": [
            ("POST", f"/api/v1/findings/{MISSING}/{verb}/", API_ADMIN_MISSING)
        ]
        for verb in ("acknowledge", "resolve", "suppress", "reopen", "assign")
    },
    "api/v1/^findings/bulk/$": [("POST", "/api/v1/findings/bulk/", API_ADMIN_INVALID)],
    # Last: it ends each session.
    "accounts/logout/": [("POST", "/accounts/logout/", (302,) * 5)],
}

# Django admin's own URLs (one per registered model and view) are checked through "admin/":
# the admin site lets in only staff who hold the Admin role (governance/urls.py).
DJANGO_ADMIN_PREFIX = "admin/"


def _routes(resolver=None, prefix="") -> list[str]:
    """Every URL pattern the console serves, spelt as the resolver spells it."""
    routes = []
    for pattern in (resolver or get_resolver()).url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            routes += _routes(pattern, route)
        elif isinstance(pattern, URLPattern):
            routes.append(route)
    return routes


@pytest.fixture
def browsers():
    """One test client per role (all staff, so the Django admin is decided by role alone)."""
    clients = {"anonymous": Client()}
    for name in ROLES[1:]:
        user = User.objects.create_user(f"matrix-{name.replace(' ', '-')}", is_staff=True)
        if name in (VIEWER, AUDITOR, ADMIN):
            user.groups.add(Group.objects.get_or_create(name=name)[0])
        clients[name] = Client()
        clients[name].force_login(user)
    return clients


def _objects() -> dict:
    rows = one_of_everything()
    from inventory.models import FetchRecord, Flag, ServerChange

    ids = {name: getattr(obj, "pk", None) for name, obj in rows.items()}
    ids.update(
        flag=Flag.objects.first().pk,
        change=ServerChange.objects.first().pk,
        fetch=FetchRecord.objects.first().pk,
        destination=Destination.objects.create(
            name="matrix mail", kind="email", email_to="soc@example.com"
        ).pk,
    )
    return ids


@pytest.mark.slow
def test_every_page_and_endpoint_answers_each_role_as_the_role_table_says(browsers):
    ids = _objects()
    wrong = []
    for requests in MATRIX.values():
        for method, path, expected in requests:
            url = path.format(**ids)
            for role, status in zip(ROLES, expected):
                send = getattr(browsers[role], method.lower())
                got = send(url, content_type="application/json") if method != "GET" else send(url)
                if got.status_code != status:
                    wrong.append(f"{method} {url} as {role}: {got.status_code}, expected {status}")
    assert not wrong, "\n".join(wrong)


def test_every_url_the_console_serves_has_a_row_in_the_role_matrix():
    served = {route for route in _routes() if not route.startswith(DJANGO_ADMIN_PREFIX)}
    served.add(DJANGO_ADMIN_PREFIX)
    assert sorted(served - set(MATRIX)) == [], "add these routes to MATRIX"
    assert sorted(set(MATRIX) - served) == [], "these MATRIX routes are no longer served"
