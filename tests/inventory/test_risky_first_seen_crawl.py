"""A CIMD crawl judges the clients it fetched at once: a new client whose document has problems
is "new client first seen with risky metadata" before the next scheduled run."""

import pytest

from inventory.models import Finding
from inventory.services import cimd as svc
from inventory.services.crawls import execute_crawl, open_crawl
from tests.fetch_server import Route

pytestmark = pytest.mark.django_db


def test_a_crawl_of_a_new_client_with_a_localhost_redirect_raises_the_risky_client_finding(
    local_server,
):
    url = local_server.url("/risky/client.json")
    local_server.routes["/risky/client.json"] = Route(
        body={
            "client_id": url,
            "client_name": "Risky agent",
            "redirect_uris": ["https://agent.example/cb", "http://localhost:8765/cb"],
        }
    )
    client = svc.ensure_cimd_client(url)
    crawl, _ = open_crawl(kind="cimd", target=url)
    assert execute_crawl(crawl.pk) == "done"
    crawl.refresh_from_db()
    assert crawl.summary["risky_first_seen"]["raised"] == 1
    finding = Finding.objects.open().get(kind="client.risky_first_seen")
    assert finding.object_id == str(client.pk)
    assert finding.details["finding_kinds"] == ["cimd.localhost_redirect"]
    assert "Risky agent" in finding.summary
