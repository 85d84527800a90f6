"""Access inventory (issue 16 §2): every grant as identity (kind, owner) → client →
server/resource → scopes, grant type, issued, expires, last used, source IdP and review state.

The grants are the grant list's (inventory.queries.grants, so `status`, `issuer`, `client`,
`server`, `scope`, `unused_days`... mean what they mean on the page and the API), plus `idp`
(an IdP connection id: its issuers' grants). The rows are one SELECT with the joins and the
review state done in SQL, read through a server-side cursor in chunks: 100,000 grants stream
in bounded memory with no query per row.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC

from django.db import connection
from django.db.models import (
    Case,
    CharField,
    Count,
    DateTimeField,
    F,
    Func,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Concat, NullIf
from django.utils import timezone

from governance.access.lists.filters import InvalidFilter, parse_id
from governance.idp.models import IdpConnection, IdpIssuer
from governance.reports.document import Chart, Column, Figures, Report, Table
from governance.reports.kinds import controls
from governance.reports.kinds.params import filter_params
from governance.reviews.models import ReviewItem
from inventory import queries, queries_grants

KIND = "access_inventory"
# The grant list's filters, and `idp` (that IdP connection's grants).
FILTERS = queries.GRANT_SPEC.params() | {"idp"}
CHUNK = 5000  # rows per fetch from the server-side cursor: few round trips, bounded memory

COLUMNS = [
    Column("grant_id", "Grant", "int"),
    Column("identity", "Identity"),
    Column("identity_kind", "Identity kind"),
    Column("identity_owner", "Identity owner"),
    Column("client", "Client"),
    Column("client_id", "Client ID"),
    Column("server", "Server"),
    Column("resource", "Resource"),
    Column("scopes", "Scopes", "list"),
    Column("grant_type", "Grant type"),
    Column("status", "Status"),
    Column("issued_at", "Issued", "datetime"),
    Column("expires_at", "Expires", "datetime"),
    Column("last_used_at", "Last used", "datetime"),
    Column("source_idp", "Source IdP"),
    Column("issuer", "Issuer"),
    Column("review_state", "Review state"),
    Column("review_campaign", "Review campaign"),
]


def _named(*fields: str):
    """The first non-empty of the text fields (a name, else an e-mail, else the raw id)."""
    return Coalesce(*(NullIf(F(name), Value("")) for name in fields), output_field=CharField())


def _utc_wall_clock(field: str) -> Func:
    """The timestamp as UTC wall-clock time (a naive datetime, made aware again per row):
    Django's loader of `timestamptz` values costs ~3 µs each, most of a row's time."""
    return Func(
        F(field), template="(%(expressions)s AT TIME ZONE 'UTC')", output_field=DateTimeField()
    )


# The review state and campaign come back as one "state<US>campaign" text: one index lookup
# per grant instead of two.
_SEPARATOR = "\x1f"


def latest_review() -> Subquery:
    """The grant's item in its latest campaign as "state<US>campaign name" (state: keep,
    revoke or reduce, or pending while undecided); NULL when no campaign ever held it. One
    index lookup per grant (review items are indexed by grant)."""
    state = Case(When(decision="", then=Value("pending")), default=F("decision"))
    items = (
        ReviewItem.objects.filter(grant=OuterRef("pk"))
        .annotate(review=Concat(state, Value(_SEPARATOR), F("campaign__name")))
        .order_by("-campaign__created_at", "-campaign_id")
    )
    return Subquery(items.values("review")[:1], output_field=CharField())


def inventory_grants(params: Mapping) -> QuerySet:
    """The grants the report lists: the grant list's filters, and `idp` (a connection id)."""
    filters = filter_params(params)
    rows = queries.grants(filters)
    if filters.get("idp"):
        connection_id = parse_id("idp", filters["idp"])
        if not IdpConnection.objects.filter(pk=connection_id).exists():
            raise InvalidFilter("idp", f"no IdP connection has the id {connection_id}")
        issuers = IdpIssuer.objects.filter(connection_id=connection_id).values("issuer")
        rows = rows.filter(issuer__in=issuers)
    return rows


def inventory_rows(grants: QuerySet) -> Iterator[tuple]:
    """The grants as COLUMNS tuples: joined and computed in SQL, read through a server-side
    cursor CHUNK rows at a time; Python only restores the time zone, splits the review and
    names the issuer's IdP connection (a dict of the few issuers, read once)."""
    idp_names = dict(IdpIssuer.objects.values_list("issuer", "connection__name"))
    rows = grants.annotate(
        identity_named=_named("subject__display_name", "subject__email", "subject__subject"),
        owner_named=_named(
            "subject__owner__display_name", "subject__owner__email", "subject__owner__subject"
        ),
        client_named=_named("client__name", "client__client_id"),
        issued_utc=_utc_wall_clock("issued_at"),
        expires_utc=_utc_wall_clock("expires_at"),
        last_used_utc=_utc_wall_clock("last_used_at"),
        review=latest_review(),
    ).values_list(
        "pk",
        "identity_named",
        "subject__kind",
        "owner_named",
        "client_named",
        "client__client_id",
        "server__name",
        "resource",
        "scopes",
        "grant_type",
        "status",
        "issued_utc",
        "expires_utc",
        "last_used_utc",
        "issuer",
        "review",
    )
    for row in _planned_without_jit(rows.iterator(chunk_size=CHUNK)):
        issued, expires, last_used, issuer, review = row[11:]
        state, campaign = review.split(_SEPARATOR, 1) if review else ("", "")
        yield (
            *row[:11],
            issued and issued.replace(tzinfo=UTC),
            expires and expires.replace(tzinfo=UTC),
            last_used and last_used.replace(tzinfo=UTC),
            idp_names.get(issuer, ""),
            issuer,
            state,
            campaign,
        )


def _planned_without_jit(rows: Iterator[tuple]) -> Iterator[tuple]:
    """The rows, their query planned with PostgreSQL's JIT off. The per-grant review lookup
    makes the planner's estimate large enough to JIT-compile the query, which takes longer
    (~2 s) than running it (~0.5 s for 100,000 grants). JIT is a plan-time choice, so it is
    switched off only while the first chunk declares the cursor, not for the session."""
    with connection.cursor() as cursor:
        cursor.execute("SET jit = off")
    try:
        first = next(rows, None)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET jit")
    if first is not None:
        yield first
        yield from rows


def build(params: Mapping) -> Report:
    """The access inventory for the filters in `params` (a snapshot as of now)."""
    grants = inventory_grants(params)  # a bad filter raises here, before any row is read
    totals = queries_grants.grant_totals(grants)
    figures = Figures(
        "Grants in this inventory",
        [
            ("Grants", totals["grants"]),
            ("Active", totals["active"]),
            ("Revoked", totals["revoked"]),
            ("Expired", totals["expired"]),
            ("Identities", totals["identities"]),
            ("Clients", totals["clients"]),
            ("Servers", totals["servers"]),
            ("Never used", totals["never_used"]),
            ("Active, unused for 90 days", totals["active_unused_90_days"]),
        ],
        controls=controls.ACCESS_INVENTORY,
    )
    by_state = review_state_counts(grants)
    reviewed = Figures(
        "Review state (latest campaign holding each grant)",
        list(by_state.items()),
        controls=controls.ACCESS_REVIEW,
        note="Not reviewed: no campaign has held the grant.",
    )
    # The same figures drawn, so the PDF shows at a glance what is live and what was reviewed.
    status_chart = Chart(
        "Grants by status",
        "bar",
        ["Active", "Revoked", "Expired"],
        {"Grants": [totals["active"], totals["revoked"], totals["expired"]]},
        controls=controls.ACCESS_INVENTORY,
    )
    review_chart = Chart(
        "Grants by review state",
        "bar",
        list(by_state),
        {"Grants": list(by_state.values())},
        controls=controls.ACCESS_REVIEW,
    )
    table = Table(
        "Grants",
        COLUMNS,
        inventory_rows(grants),
        controls=controls.ACCESS_INVENTORY,
        row_count=totals["grants"],
    )
    return Report(
        kind=KIND,
        title="Access inventory",
        generated_at=timezone.now(),
        period_start=None,
        period_end=None,
        parameters=filter_params(params),
        controls=controls.union(controls.ACCESS_INVENTORY, controls.ACCESS_REVIEW),
        sections=[figures, status_chart, reviewed, review_chart, table],
        primary_table=4,
    )


REVIEW_STATES = ("Not reviewed", "pending", "keep", "revoke", "reduce")


def review_state_counts(grants: QuerySet) -> dict[str, int]:
    """{review state: grants} over the given grants, every state listed (zeros included): the
    decision of each grant's item in its latest campaign, counted set-wise (DISTINCT ON)."""
    latest = (
        ReviewItem.objects.filter(grant__in=grants.order_by().values("pk"))
        .order_by("grant_id", "-campaign__created_at", "-campaign_id")
        .distinct("grant_id")
        .values("pk")
    )
    by_state = dict.fromkeys(REVIEW_STATES, 0)
    decided = (
        ReviewItem.objects.filter(pk__in=latest).values_list("decision").annotate(n=Count("pk"))
    )
    for decision, n in decided.order_by():
        by_state[decision or "pending"] += n
    by_state["Not reviewed"] = grants.order_by().count() - sum(by_state.values())
    return by_state
