"""Malformed query strings are the caller's error: a 400 naming the parameter, never a 500.

"²".isdigit() is true but int("²") raises, and PostgreSQL text cannot hold a NUL character
(psycopg raises DataError): both used to reach the database layer and answer 500.
"""

import pytest

from inventory.models import Registry
from inventory.queries import InvalidFilter, parse_id, parse_text
from tests.ui_factories import small_inventory

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


@pytest.mark.parametrize("url, param", [
    (f"/inventory/grants/?client={SUPERSCRIPT_TWO}", "client"),
    (f"/inventory/tasks/?identity={SUPERSCRIPT_TWO}", "identity"),
    ("/inventory/grants/?q=%00", "q"),
    ("/inventory/identities/?issuer=%00", "issuer"),
    ("/inventory/flags/?kind=a%00b", "kind"),
])
def test_a_list_page_answers_400_to_a_malformed_parameter(viewer_client, url, param):
    small_inventory()
    response = viewer_client.get(url)
    assert response.status_code == 400, url
    assert f"{param}:" in response.content.decode()


@pytest.mark.parametrize("url, param", [
    (f"/api/v1/grants/?client={SUPERSCRIPT_TWO}", "client"),
    ("/api/v1/tasks/?q=%00", "q"),
    ("/api/v1/flags/?object_type=%00", "object_type"),
    (f"/api/v1/crawls/?registry={SUPERSCRIPT_TWO}", "registry"),
    ("/api/v1/crawls/?target=%00", "target"),
    ("/api/v1/crawls/?status=%00", "status"),
    (f"/api/v1/server-changes/?server={SUPERSCRIPT_TWO}", "server"),
])
def test_an_api_list_answers_400_naming_a_malformed_parameter(viewer_client, url, param):
    small_inventory()
    response = viewer_client.get(url)
    assert response.status_code == 400, url
    assert param in response.json()


def test_well_formed_ids_still_filter_the_registry_api(viewer_client):
    inv = small_inventory()
    Registry.objects.create(name="corp", base_url="https://r.corp.example")
    assert viewer_client.get("/api/v1/crawls/?registry=12345").json()["count"] == 0
    changes = viewer_client.get(f"/api/v1/server-changes/?server={inv['crm'].pk}")
    assert changes.status_code == 200 and changes.json()["count"] == 0
