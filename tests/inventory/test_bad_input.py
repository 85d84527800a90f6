"""Malformed query strings are the caller's error: a 400 naming the parameter, never a 500.

"²".isdigit() is true but int("²") raises, and PostgreSQL text cannot hold a NUL character
(psycopg raises DataError): both used to reach the database layer and answer 500. A NUL
anywhere in the query string is now refused before any view runs
(governance/platform/middleware.py).
"""

import httpx
import pytest
from django.test import Client

from governance.access.lists.filters import InvalidFilter, parse_id, parse_text
from inventory.models import Crawl, Registry, ServerChange
from tests.api_rows import API_LISTS, one_of_everything
from tests.ui_factories import T0, server, small_inventory

pytestmark = pytest.mark.django_db

SUPERSCRIPT_TWO = "\u00b2"


def test_parse_id_takes_ascii_digits_only():
    assert parse_id("client", "42") == 42
    for raw in (SUPERSCRIPT_TWO, "\u0663", "-1", "1.0", "abc"):
        with pytest.raises(InvalidFilter) as caught:
            parse_id("client", raw)
        assert caught.value.param == "client"


def test_parse_text_refuses_a_nul_character():
    assert parse_text("q", "alice") == "alice"
    with pytest.raises(InvalidFilter) as caught:
        parse_text("q", "a\x00b")
    assert caught.value.param == "q"


@pytest.mark.parametrize(
    "url, param",
    [
        (f"/inventory/grants/?client={SUPERSCRIPT_TWO}", "client"),
        (f"/inventory/tasks/?identity={SUPERSCRIPT_TWO}", "identity"),
    ],
)
def test_a_list_page_answers_400_to_a_malformed_parameter(viewer_client, url, param):
    small_inventory()
    response = viewer_client.get(url)
    assert response.status_code == 400, url
    assert f"{param}:" in response.content.decode()


@pytest.mark.parametrize(
    "url, param",
    [
        (f"/api/v1/grants/?client={SUPERSCRIPT_TWO}", "client"),
        (f"/api/v1/crawls/?registry={SUPERSCRIPT_TWO}", "registry"),
        (f"/api/v1/server-changes/?server={SUPERSCRIPT_TWO}", "server"),
    ],
)
def test_an_api_list_answers_400_naming_a_malformed_parameter(viewer_client, url, param):
    small_inventory()
    response = viewer_client.get(url)
    assert response.status_code == 400, url
    assert param in response.json()


def test_well_formed_ids_still_filter_the_registry_api(viewer_client):
    inv = small_inventory()
    corp = Registry.objects.create(name="corp", base_url="https://r.corp.example")
    other = Registry.objects.create(name="other", base_url="https://r.other.example")
    wanted, _ = (
        Crawl.objects.create(kind=Crawl.Kind.REGISTRY, target=r.base_url, registry=r, queued_at=T0)
        for r in (corp, other)
    )
    crawls = viewer_client.get(f"/api/v1/crawls/?registry={corp.pk}")
    assert crawls.status_code == 200
    assert [row["id"] for row in crawls.json()["results"]] == [wanted.pk]

    crm, erp = inv["crm"], server("io.github.acme/erp")
    change, _ = (
        ServerChange.objects.create(
            server=s, field=ServerChange.Field.STATUS, new_value="deprecated", observed_at=T0
        )
        for s in (crm, erp)
    )
    changes = viewer_client.get(f"/api/v1/server-changes/?server={crm.pk}")
    assert changes.status_code == 200
    assert [row["id"] for row in changes.json()["results"]] == [change.pk]


@pytest.mark.parametrize(
    "url, param",
    [
        ("/inventory/discovery/?q=%00", "q"),
        ("/inventory/discovery/fetches/?purpose=a%00", "purpose"),
        ("/inventory/discovery/fetches/?reason=%00", "reason"),
        ("/inventory/discovery/fetches/?q=%00", "q"),
        ("/inventory/discovery/cimd/?q=%00", "q"),
        ("/inventory/discovery/oauth/?q=%00", "q"),
        ("/inventory/grants/?q=%00", "q"),
        ("/inventory/identities/?issuer=%00", "issuer"),
        ("/inventory/flags/?kind=a%00b", "kind"),
        ("/inventory/grants/?page=1&x%00y=1", "x\\x00y"),
    ],
)
def test_a_nul_character_in_the_query_string_is_a_400_on_pages(viewer_client, url, param):
    response = viewer_client.get(url)
    assert response.status_code == 400, url
    assert f"Query parameter '{param}' contains a NUL character." in response.content.decode()


@pytest.mark.parametrize(
    "url, param",
    [
        ("/api/v1/fetch-records/?purpose=%00", "purpose"),
        ("/api/v1/fetch-records/?reason=a%00b", "reason"),
        ("/api/v1/tasks/?q=%00", "q"),
        ("/api/v1/flags/?object_type=%00", "object_type"),
        ("/api/v1/crawls/?target=%00", "target"),
        ("/api/v1/crawls/?status=%00", "status"),
        ("/api/v1/crawls/?q=%00", "q"),
    ],
)
def test_a_nul_character_in_the_query_string_is_a_400_on_the_api(viewer_client, url, param):
    response = viewer_client.get(url)
    assert response.status_code == 400, url
    assert response.json() == {"detail": f"Query parameter '{param}' contains a NUL character."}


@pytest.mark.parametrize(
    "url",
    [
        "/inventory/discovery/?q=%00",
        "/api/v1/fetch-records/?purpose=%00",
        "/accounts/login/?next=%00",
    ],
)
def test_an_anonymous_request_with_a_nul_character_is_a_400(client, url):
    assert client.get(url).status_code == 400


# --- Page sizes and offsets: one strict parser for every API list ---
# (governance/access/lists/pagination.py)

MAX_LIMIT = 500  # the documented largest page
BIGINT_PAST = str(2**63)  # one past PostgreSQL's bigint: as LIMIT it answered 500
THOUSANDS_OF_DIGITS = "1" * 5000  # int() refuses more than 4300 digits with ValueError


@pytest.mark.django_db(transaction=True)
def test_a_page_size_past_bigint_is_capped_on_every_api_list_of_the_live_server(
    live_server, viewer, admin_user
):
    one_of_everything()
    for user in (viewer, admin_user):  # event sources are for Admins
        browser = Client()
        browser.force_login(user)
        cookie = f"sessionid={browser.cookies['sessionid'].value}"
        lists = [n for n in API_LISTS if (n == "event-sources") == (user is admin_user)]
        for name in lists:
            for limit in (BIGINT_PAST, THOUSANDS_OF_DIGITS):
                response = httpx.get(
                    f"{live_server.url}/api/v1/{name}/",
                    params={"limit": limit},
                    headers={"Cookie": cookie},
                )
                assert response.status_code == 200, (name, response.text[:200])
                assert 1 <= len(response.json()["results"]) <= MAX_LIMIT, name


@pytest.mark.parametrize(
    "query, param",
    [
        ("limit=-1", "limit"),
        ("limit=0", "limit"),
        ("limit=ten", "limit"),
        (f"limit={SUPERSCRIPT_TWO}", "limit"),
        ("limit=2.5", "limit"),
        ("offset=-1", "offset"),
        ("offset=x", "offset"),
    ],
)
def test_every_api_list_answers_400_naming_a_bad_page_parameter(admin_client_, query, param):
    one_of_everything()
    for name in API_LISTS:
        if name == "audit-events" and param == "offset":
            continue  # keyset pages: offset is not one of its parameters (also a 400, below)
        response = admin_client_.get(f"/api/v1/{name}/?{query}")
        assert response.status_code == 400, (name, query)
        assert list(response.json()) == [param], (name, response.json())


def test_a_nul_character_in_a_page_parameter_is_a_400_naming_it(admin_client_):
    for name in API_LISTS:
        response = admin_client_.get(f"/api/v1/{name}/?limit=5%00")
        assert response.status_code == 400, name
        assert "'limit'" in response.json()["detail"]


def test_a_valid_offset_past_the_end_is_an_empty_page(viewer_client):
    one_of_everything()
    page = viewer_client.get(f"/api/v1/grants/?offset={BIGINT_PAST}").json()
    assert page["count"] == 3 and page["results"] == []


@pytest.mark.parametrize("page", [BIGINT_PAST, "-1", "x", THOUSANDS_OF_DIGITS])
def test_every_list_page_takes_any_page_number_without_a_500(viewer_client, page):
    one_of_everything()
    for url in (
        "/inventory/identities/",
        "/inventory/clients/",
        "/inventory/servers/",
        "/inventory/grants/",
        "/inventory/tasks/",
        "/inventory/flags/",
        "/inventory/discovery/",
        "/inventory/discovery/fetches/",
        "/governance/actions/",
    ):
        assert viewer_client.get(url, {"page": page}).status_code in (200, 403), url


def test_an_id_filter_of_thousands_of_digits_is_a_400_on_the_api_and_the_pages(viewer_client):
    inv = one_of_everything()
    for url in ("/api/v1/grants/", "/api/v1/client-documents/"):
        response = viewer_client.get(url, {"client": THOUSANDS_OF_DIGITS})
        assert response.status_code == 400 and "client" in response.json(), url
    response = viewer_client.get("/inventory/grants/", {"client": THOUSANDS_OF_DIGITS})
    assert response.status_code == 400 and b"client:" in response.content
    # The crawl history's filter is the API's (CRAWL_SPEC): named on the page, not dropped.
    response = viewer_client.get("/inventory/discovery/", {"registry": THOUSANDS_OF_DIGITS})
    assert response.status_code == 400 and b"registry:" in response.content
    # A diff's `against` is no list filter: a malformed one is still ignored, not a 500.
    diff = f"/inventory/discovery/cimd/versions/{inv['document'].pk}/diff/"
    assert viewer_client.get(diff, {"against": THOUSANDS_OF_DIGITS}).status_code == 200


def test_a_malformed_id_filter_no_longer_returns_every_row(viewer_client):
    one_of_everything()
    response = viewer_client.get("/api/v1/client-documents/", {"client": "abc"})
    assert response.status_code == 400 and "client" in response.json()
    response = viewer_client.get("/api/v1/fetch-records/", {"ok": "maybe"})
    assert response.status_code == 400 and "ok" in response.json()
