"""Console pages: roles, filters, htmx partials, detail relationships, admin controls."""

import re

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from governance.access.models import AdminAction
from governance.access.roles import VIEWER
from inventory.services import entities
from tests.ui_factories import T0, client, grant, identity, small_inventory


def page_sql(web_client, url, **headers) -> tuple[str, list[str]]:
    """(HTML, SQL statements run) of a 200 answer to GET `url`; a first request warms the
    session and role lookups out of the count."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    web_client.get(url, **headers)
    with CaptureQueriesContext(connection) as captured:
        response = web_client.get(url, **headers)
    assert response.status_code == 200
    return response.content.decode(), [query["sql"] for query in captured]


pytestmark = pytest.mark.django_db

LIST_PAGES = [
    "/",
    "/inventory/identities/",
    "/inventory/clients/",
    "/inventory/servers/",
    "/inventory/grants/",
    "/inventory/tasks/",
    "/inventory/flags/",
    "/governance/",
]


def _detail_pages(inv):
    return [
        reverse("inventory:identity_detail", args=[inv["alice"].pk]),
        reverse("inventory:client_detail", args=[inv["cursor"].pk]),
        reverse("inventory:server_detail", args=[inv["crm"].pk]),
        reverse("inventory:grant_detail", args=[inv["grant"].pk]),
        reverse("inventory:task_detail", args=[inv["task"].pk]),
    ]


@pytest.mark.parametrize("who", ["viewer_client", "auditor_client", "admin_client_"])
def test_every_role_can_read_every_inventory_page(request, who):
    browser = request.getfixturevalue(who)
    inv = small_inventory()
    for url in LIST_PAGES + _detail_pages(inv):
        assert browser.get(url).status_code == 200, url


def test_a_user_without_a_role_gets_403_on_every_page(nobody_client):
    inv = small_inventory()
    for url in LIST_PAGES + _detail_pages(inv) + ["/governance/users/"]:
        assert nobody_client.get(url).status_code == 403, url


def test_anonymous_visitors_are_sent_to_login_from_every_page(client):
    inv = small_inventory()
    for url in LIST_PAGES + _detail_pages(inv):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"], url


@pytest.mark.parametrize("who", ["viewer_client", "auditor_client"])
def test_only_admins_see_the_users_page(request, who):
    assert request.getfixturevalue(who).get("/governance/users/").status_code == 403


def test_the_identity_list_filters_by_kind_and_searches_by_name(viewer_client):
    small_inventory()
    page = viewer_client.get("/inventory/identities/?kind=agent").content.decode()
    assert "1 identity" in page and "00u-bot" in page and "00u-alice" not in page
    page = viewer_client.get("/inventory/identities/?q=abbott").content.decode()
    assert "1 identity" in page and "00u-alice" in page and "00u-bot" not in page


def test_the_grant_list_filters_by_status_client_and_subject(viewer_client):
    inv = small_inventory()
    page = viewer_client.get("/inventory/grants/?status=revoked").content.decode()
    assert "g-bot" in page and "g-alice" not in page
    page = viewer_client.get(f"/inventory/grants/?client={inv['m2m'].pk}").content.decode()
    assert "g-m2m" in page and "g-alice" not in page
    assert f'<option value="{inv["m2m"].pk}" selected>ETL loader</option>' in page
    page = viewer_client.get(f"/inventory/grants/?subject={inv['alice'].pk}").content.decode()
    assert "g-alice" in page and "g-bot" not in page
    assert 'class="chip">Subject: Alice Abbott' in page  # too many identities for a select


def test_the_task_list_filters_running_and_flagged_tasks(viewer_client):
    inv = small_inventory()
    entities.report_task_status(inv["task"], status="completed", at=T0)
    assert "t-1" not in viewer_client.get("/inventory/tasks/?running=true").content.decode()
    assert "t-1" in viewer_client.get("/inventory/tasks/?running=false").content.decode()
    assert "t-1" not in viewer_client.get("/inventory/tasks/?flagged=true").content.decode()
    entities.report_task_status(inv["task"], status="working", at=T0)
    assert "t-1" in viewer_client.get("/inventory/tasks/?flagged=true").content.decode()


def test_a_bad_filter_value_is_a_400_naming_the_parameter_not_a_500(viewer_client):
    small_inventory()
    for url, param in [
        ("/inventory/grants/?status=bogus", "status"),
        ("/inventory/grants/?client=abc", "client"),
        ("/inventory/tasks/?flagged=maybe", "flagged"),
    ]:
        response = viewer_client.get(url)
        assert response.status_code == 400, url
        assert f"{param}:" in response.content.decode()


def test_lists_paginate_and_keep_filters_in_page_links(viewer_client):
    c = client()
    for n in range(60):
        grant(f"g-{n:03d}", client=c, status="active")
    first = viewer_client.get("/inventory/grants/?status=active&sort=issued_at").content.decode()
    assert "60 grants" in first and "Page 1 of 2" in first
    assert "?status=active&amp;sort=issued_at&amp;page=2" in first
    second = viewer_client.get("/inventory/grants/?status=active&sort=issued_at&page=2")
    assert "Page 2 of 2" in second.content.decode()


def test_sorting_by_a_column_orders_the_rows(viewer_client):
    identity("00u-b", display_name="Bea")
    identity("00u-a", display_name="Abe")
    ascending = viewer_client.get("/inventory/identities/?sort=name").content.decode()
    descending = viewer_client.get("/inventory/identities/?sort=-name").content.decode()
    assert ascending.index("Abe") < ascending.index("Bea")
    assert descending.index("Bea") < descending.index("Abe")


def test_an_htmx_request_gets_only_the_table_partial(viewer_client):
    small_inventory()
    full = viewer_client.get("/inventory/grants/")
    partial = viewer_client.get("/inventory/grants/", HTTP_HX_REQUEST="true")
    assert "<html" in full.content.decode() and 'id="results"' in full.content.decode()
    assert "<html" not in partial.content.decode() and "g-alice" in partial.content.decode()
    assert "HX-Request" in partial["Vary"]


# The filter form's queries: the selects' known values (issuers, client and server names) and the
# names of the id filters set in the URL, shown as chips.
FORM_QUERIES = [
    ("/inventory/identities/", 1),
    ("/inventory/grants/?client={cursor}&subject={alice}&server={crm}", 3 + 3),
    ("/inventory/tasks/?server={crm}&client={cursor}&identity={alice}&grant={grant}", 2 + 4),
]


@pytest.mark.parametrize(("url", "form_queries"), FORM_QUERIES)
def test_an_htmx_request_does_not_read_the_filter_forms_options(viewer_client, url, form_queries):
    inv = small_inventory()
    url = url.format(**{name: obj.pk for name, obj in inv.items()})
    _, full = page_sql(viewer_client, url)
    _, fragment = page_sql(viewer_client, url, HTTP_HX_REQUEST="true")
    assert len(fragment) == len(full) - form_queries
    assert not [sql for sql in fragment if "DISTINCT" in sql or "LIMIT 201" in sql]


def test_a_grant_chip_costs_the_task_list_one_query(viewer_client):
    inv = small_inventory()
    _, without = page_sql(viewer_client, "/inventory/tasks/")
    page, count = page_sql(viewer_client, f"/inventory/tasks/?grant={inv['grant'].pk}")
    # The chip names the grant by its client and subject: read with it, not one query each.
    assert 'class="chip">Grant: Cursor for Alice Abbott (g-alice)' in page
    assert len(count) == len(without) + 1


def test_an_htmx_history_restore_gets_the_full_page(viewer_client):
    response = viewer_client.get(
        "/inventory/grants/", HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in response.content.decode()


def test_list_filter_forms_are_htmx_get_forms_that_push_the_url(viewer_client):
    page = viewer_client.get("/inventory/tasks/").content.decode()
    assert 'method="get"' in page and 'hx-get="/inventory/tasks/"' in page
    assert 'hx-target="#results"' in page and 'hx-push-url="true"' in page


def test_an_identity_page_shows_its_grants_clients_and_tasks(viewer_client):
    inv = small_inventory()
    page = viewer_client.get(
        reverse("inventory:identity_detail", args=[inv["alice"].pk])
    ).content.decode()
    assert "g-alice" in page and "Cursor" in page and "t-1" in page
    assert "agent: triage" in page  # the agent she is accountable for


def test_a_server_page_marks_non_conforming_tool_names(viewer_client):
    inv = small_inventory()
    page = viewer_client.get(
        reverse("inventory:server_detail", args=[inv["crm"].pk])
    ).content.decode()
    assert "close ticket" in page and "non-conforming name" in page
    assert "https://mcp.acme.example/crm/mcp" in page and "g-alice" in page


def test_a_client_page_shows_the_servers_it_has_grants_on_and_its_flags(viewer_client):
    inv = small_inventory()
    from inventory.services.flags import raise_flag

    raise_flag(kind="cimd.redirect_uri_added", obj=inv["cursor"], summary="New redirect URI")
    page = viewer_client.get(
        reverse("inventory:client_detail", args=[inv["cursor"].pk])
    ).content.decode()
    assert "io.github.acme/crm" in page and "New redirect URI" in page


def test_a_task_page_marks_illegal_transitions(viewer_client):
    inv = small_inventory()
    entities.report_task_status(inv["task"], status="failed", at=T0)
    entities.report_task_status(inv["task"], status="completed", at=T0)
    page = viewer_client.get(
        reverse("inventory:task_detail", args=[inv["task"].pk])
    ).content.decode()
    assert "illegal — not applied" in page and 'class="illegal"' in page


def test_admins_see_the_review_control_and_viewers_do_not(admin_client_, viewer):
    inv = small_inventory()
    url = reverse("inventory:client_detail", args=[inv["cursor"].pk])
    assert "Approve</button>" in admin_client_.get(url).content.decode()
    as_viewer = Client()
    as_viewer.force_login(viewer)
    page = as_viewer.get(url).content.decode()
    assert "Approve</button>" not in page and "Unreviewed" in page


def test_an_admin_blocks_a_client_with_htmx_and_gets_the_updated_fragment(admin_client_):
    inv = small_inventory()
    response = admin_client_.post(
        reverse("inventory:client_review", args=[inv["cursor"].pk]),
        {"status": "blocked", "confirm": "1"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert 'id="review-status"' in response.content.decode()
    assert "<html" not in response.content.decode()
    inv["cursor"].refresh_from_db()
    assert inv["cursor"].review_status == "blocked"
    action = AdminAction.objects.get(action="client.review_status_changed")
    assert action.after == {"review_status": "blocked"} and action.actor_repr == "ada-admin"


def test_a_review_without_javascript_redirects_back_to_the_server(admin_client_):
    inv = small_inventory()
    url = reverse("inventory:server_review", args=[inv["crm"].pk])
    response = admin_client_.post(url, {"status": "approved"})
    assert response.status_code == 302
    assert response["Location"] == reverse("inventory:server_detail", args=[inv["crm"].pk])


@pytest.mark.parametrize("who", ["viewer_client", "auditor_client", "nobody_client"])
def test_non_admins_cannot_change_a_review_status(request, who):
    inv = small_inventory()
    url = reverse("inventory:client_review", args=[inv["cursor"].pk])
    assert request.getfixturevalue(who).post(url, {"status": "approved"}).status_code == 403
    inv["cursor"].refresh_from_db()
    assert inv["cursor"].review_status == "unreviewed"
    assert not AdminAction.objects.exists()


def test_a_review_with_an_unknown_status_is_a_400(admin_client_):
    inv = small_inventory()
    url = reverse("inventory:client_review", args=[inv["cursor"].pk])
    response = admin_client_.post(url, {"status": "whatever"})
    assert response.status_code == 400 and b"status" in response.content


def test_an_admin_changes_a_users_role_and_it_is_recorded(admin_client_, viewer):
    url = reverse("governance:user_role_update", args=[viewer.pk])
    response = admin_client_.post(url, {"role": "Auditor"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and f'id="user-{viewer.pk}"' in response.content.decode()
    assert list(User.objects.get(pk=viewer.pk).groups.values_list("name", flat=True)) == ["Auditor"]
    action = AdminAction.objects.get(action="user.role_changed")
    assert (action.before, action.after) == ({"roles": ["Viewer"]}, {"roles": ["Auditor"]})


def test_an_admin_cannot_change_their_own_role_or_set_an_unknown_one(
    admin_client_, admin_user, viewer
):
    own = admin_client_.post(
        reverse("governance:user_role_update", args=[admin_user.pk]), {"role": ""}
    )
    unknown = admin_client_.post(
        reverse("governance:user_role_update", args=[viewer.pk]), {"role": "Root"}
    )
    assert own.status_code == 400 and unknown.status_code == 400
    assert not AdminAction.objects.exists()


def test_a_viewer_cannot_change_roles(viewer_client, auditor):
    url = reverse("governance:user_role_update", args=[auditor.pk])
    assert viewer_client.post(url, {"role": "Admin"}).status_code == 403


def test_the_overview_shows_real_counts_and_charts_in_few_queries(
    viewer_client, django_assert_max_num_queries
):
    small_inventory()
    viewer_client.get("/")  # warm the session and role lookups out of the count
    # 12, one for who started the running tasks, three for the protocol panels (negotiated
    # revisions, capability adoption, the minimum revision), one for the findings needing
    # attention by severity, one for the access reviews in progress
    with django_assert_max_num_queries(18):
        response = viewer_client.get("/")
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('class="plotly-graph-div"') >= 2
    assert "vendor/plotly/plotly-basic.min.js" in page
    # Nothing loaded from elsewhere (air-gapped); "cdn" as a substring could be in a CSRF token.
    assert re.search(r'(?:src|href)="(?:https?:)?//', page) is None
    assert '<span class="n">2</span>Identities' in page
    assert '<span class="n">1</span>Active grants' in page
    assert '<span class="n">1</span>Running tasks' in page


def test_the_open_flags_page_lists_open_flags_only_by_default(viewer_client):
    inv = small_inventory()
    from inventory.services.flags import raise_flag, resolve_open_flags

    raise_flag(kind="server.deleted", obj=inv["crm"], summary="Deleted from registry")
    raise_flag(kind="cimd.changed", obj=inv["cursor"], summary="Old news")
    resolve_open_flags(inv["cursor"], ["cimd.changed"], by="x")
    page = viewer_client.get("/inventory/flags/").content.decode()
    assert "Deleted from registry" in page and "Old news" not in page
    assert "Old news" in viewer_client.get("/inventory/flags/?open=false").content.decode()


@pytest.mark.parametrize("url", LIST_PAGES[1:7])
def test_every_list_answers_htmx_with_its_table_partial(viewer_client, url):
    small_inventory()
    partial = viewer_client.get(url, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and "<table" in partial


def test_the_overview_renders_on_an_empty_inventory(viewer_client):
    response = viewer_client.get("/")
    assert response.status_code == 200
    assert "No active grant expires in the next 7 days." in response.content.decode()


def test_a_grant_page_reads_its_tasks_clients_and_identities_in_one_query(viewer_client):
    from tests.ui_factories import task

    inv = small_inventory()
    url = reverse("inventory:grant_detail", args=[inv["grant"].pk])
    _, one = page_sql(viewer_client, url)
    for n in range(3):
        task(
            f"t-more-{n}",
            server=inv["crm"],
            client=inv["cursor"],
            identity=inv["alice"],
            grant=inv["grant"],
        )
    assert len(page_sql(viewer_client, url)[1]) == len(one)


def test_a_server_page_reads_its_versions_in_a_fixed_number_of_queries_without_documents(
    viewer_client,
):
    """Versions' packages are prefetched (one query, not one per version) and their server.json
    documents, which the page never shows, are not read at all."""
    from inventory.models import Registry, ServerPackage, ServerVersion

    inv = small_inventory()
    registry = Registry.objects.create(name="corp", base_url="https://registry.corp.example")

    def versions(numbers):
        for n in numbers:
            version = ServerVersion.objects.create(
                server=inv["crm"],
                registry=registry,
                version=f"1.{n}.0",
                first_seen=T0,
                last_seen=T0,
                document={"name": "io.github.acme/crm", "pad": "x" * 10_000},
            )
            for position, kind in enumerate(("npm", "oci")):
                ServerPackage.objects.create(
                    server_version=version,
                    position=position,
                    registry_type=kind,
                    identifier=f"acme-crm-{n}",
                )

    url = reverse("inventory:server_detail", args=[inv["crm"].pk])
    versions(range(2))
    page, two = page_sql(viewer_client, url)
    assert "oci:acme-crm-1" in page
    versions(range(2, 10))
    page, ten = page_sql(viewer_client, url)
    assert "oci:acme-crm-9" in page and len(ten) == len(two)
    # The versions are read (one query), their server.json never: not with the rows, not lazily.
    assert [sql for sql in ten if 'FROM "inventory_serverversion"' in sql]
    assert not [sql for sql in ten if '"inventory_serverversion"."document"' in sql]


def test_the_users_page_reads_every_role_from_one_prefetch_not_a_query_per_user(
    admin_client_, viewer, auditor, django_assert_max_num_queries
):
    admin_client_.get("/governance/users/")  # warm the session and role lookups out of the count
    with django_assert_max_num_queries(12) as counted:
        response = admin_client_.get("/governance/users/")
    few = len(counted.captured_queries)
    for n in range(10):
        User.objects.create_user(f"extra-{n}").groups.add(Group.objects.get(name=VIEWER))
    with django_assert_max_num_queries(few):
        response = admin_client_.get("/governance/users/")
    assert response.status_code == 200
    assert User.objects.count() >= 13 and "extra-9" in response.content.decode()
