"""The fetch log, crawl history and CIMD lists take the same parameter names on their page and
their API (one ListSpec each), and a bad filter is named on both: a 400 on the API, a visible
message on the page, never silently dropped."""

import pytest
from django.urls import reverse, reverse_lazy
from django.utils import timezone

from inventory.models import Client, ClientDocumentState, Crawl, FetchRecord, Registry

pytestmark = pytest.mark.django_db

FETCH_LOG = reverse_lazy("inventory:fetch_record_list")
CRAWLS = reverse_lazy("inventory:crawl_list")
CIMD = reverse_lazy("inventory:client_document_list")


def fetched(url, **fields):
    return FetchRecord.objects.create(at=timezone.now(), purpose="cimd", url=url, **fields)


def crawl(target, **fields):
    return Crawl.objects.create(target=target, queued_at=timezone.now(), **fields)


def cimd_client(client_id, outcome):
    now = timezone.now()
    client = Client.objects.create(client_id=client_id, first_seen=now, last_seen=now)
    return ClientDocumentState.objects.create(client=client, outcome=outcome)


@pytest.fixture
def fetches():
    fetched("https://ok.example/c.json", ok=True, status_code=200)
    fetched("https://inside.example/c.json", error_reason="blocked_address")


def test_the_fetch_log_page_and_api_filter_by_the_same_ok_and_q(viewer_client, fetches):
    params = {"ok": "false", "q": "inside"}
    page = viewer_client.get(FETCH_LOG, params).content.decode()
    api = viewer_client.get("/api/v1/fetch-records/", params).json()
    assert "inside.example" in page and "ok.example" not in page
    assert [row["url"] for row in api["results"]] == ["https://inside.example/c.json"]


def test_the_fetch_log_page_still_reads_the_old_outcome_spelling(viewer_client, fetches):
    page = viewer_client.get(FETCH_LOG, {"outcome": "ok"}).content.decode()
    assert "ok.example" in page and "inside.example" not in page


def test_a_bad_fetch_log_filter_is_named_on_the_page_and_a_400_on_the_api(viewer_client, fetches):
    page = viewer_client.get(FETCH_LOG, {"ok": "maybe"})
    assert page.status_code == 400
    body = page.content.decode()
    assert 'role="alert"' in body and "ok: &#x27;maybe&#x27; is not a boolean" in body
    assert "ok.example" not in body  # not an unfiltered list passed off as the filtered one
    api = viewer_client.get("/api/v1/fetch-records/", {"ok": "maybe"})
    assert api.status_code == 400 and "ok" in api.json()


def test_the_crawl_history_page_and_api_filter_by_the_same_q_kind_status_and_registry(
    viewer_client,
):
    registry = Registry.objects.create(name="corp", base_url="https://registry.example")
    crawl(registry.base_url, kind="registry", registry=registry, status="done")
    crawl("https://client.example/c.json", kind="cimd", status="failed")
    params = {"q": "client.example", "kind": "cimd", "status": "failed"}
    page = viewer_client.get(
        CRAWLS, params, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="crawl-history"
    ).content.decode()
    api = viewer_client.get("/api/v1/crawls/", params).json()
    assert "client.example" in page and "registry.example" not in page
    assert [row["target"] for row in api["results"]] == ["https://client.example/c.json"]
    by_registry = viewer_client.get("/api/v1/crawls/", {"registry": registry.pk}).json()
    assert [row["target"] for row in by_registry["results"]] == [registry.base_url]
    # The API's old name for the search still works (deprecated).
    old = viewer_client.get("/api/v1/crawls/", {"target": "client.example"}).json()
    assert [row["target"] for row in old["results"]] == ["https://client.example/c.json"]


def test_a_bad_crawl_filter_names_the_accepted_values_on_the_page_and_is_a_400_on_the_api(
    viewer_client,
):
    crawl("https://client.example/c.json", kind="cimd", status="failed")
    page = viewer_client.get(CRAWLS, {"status": "broken"})
    body = page.content.decode()
    assert page.status_code == 400 and 'role="alert"' in body
    assert "status: &#x27;broken&#x27; is not one of queued" in body and "failed" in body
    assert "client.example" not in body
    api = viewer_client.get("/api/v1/crawls/", {"status": "broken"})
    assert api.status_code == 400 and "not one of" in api.json()["status"][0]


def test_the_cimd_client_page_filters_by_outcome_and_names_a_bad_one(viewer_client):
    cimd_client("https://good.example/c.json", "ok")
    cimd_client("https://bad.example/c.json", "failed")
    page = viewer_client.get(CIMD, {"outcome": "failed"}).content.decode()
    assert "bad.example" in page and "good.example" not in page
    bad = viewer_client.get(CIMD, {"outcome": "gone"})
    body = bad.content.decode()
    assert bad.status_code == 400 and 'role="alert"' in body
    assert "outcome: &#x27;gone&#x27; is not one of never, ok, invalid, failed" in body
    assert "good.example" not in body


@pytest.mark.django_db
def test_an_empty_crawl_history_says_how_a_crawl_starts_and_a_filtered_one_says_none_match(
    admin_client,
):
    empty = admin_client.get(reverse("inventory:crawl_list")).content.decode()
    assert "No crawls yet" in empty and "Crawl now" in empty
    filtered = admin_client.get(reverse("inventory:crawl_list"), {"status": "failed"})
    assert "No crawls match these filters." in filtered.content.decode()
