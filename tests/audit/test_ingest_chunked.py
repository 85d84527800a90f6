"""Senders that stream their body (Transfer-Encoding: chunked) lose nothing on the native API."""

import httpx
import orjson
import pytest

from audit.models import AuditEvent
from audit.services.sources import create_source
from tests.ingest_helpers import make_event
from tests.web_server import WebServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_a_chunked_batch_posted_to_the_production_server_is_stored_not_dropped():
    _, token = create_source(name="gw-chunked")
    events = [make_event() for _ in range(50)]
    body = orjson.dumps(events)
    web = WebServer()
    try:
        # A generator body makes httpx send Transfer-Encoding: chunked and no Content-Length.
        response = httpx.post(
            f"{web.url}/api/v1/events",
            timeout=60,
            content=(body[i : i + 1000] for i in range(0, len(body), 1000)),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
    finally:
        web.kill()
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 50
    assert AuditEvent.objects.filter(event_id__in=[e["id"] for e in events]).count() == 50


def test_a_chunked_batch_elsewhere_gets_411_instead_of_vanishing(rf):
    from audit import views_ingest

    _, token = create_source(name="gw-chunked-411")
    request = rf.post(
        "/api/v1/events",
        data=b"",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    request.META.pop("CONTENT_LENGTH", None)
    request.META["CONTENT_TYPE"] = "application/json"
    response = views_ingest.ingest(request)
    assert response.status_code == 411
    assert b"Content-Length" in response.content
