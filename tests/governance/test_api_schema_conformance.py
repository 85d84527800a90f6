"""The published OpenAPI schema is what the API serves: schemathesis calls every GET operation of
the live server with generated parameters, as a Viewer and as an Admin, and checks that no call
answers 500 and that every response (status, headers and body) conforms to the schema.

Bounded (a few examples per operation) so the whole run stays well under a minute.
"""

import pytest
import schemathesis
from django.core.management import call_command
from django.test import Client as DjangoClient
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from governance.access.roles import ADMIN, VIEWER
from tests.api_rows import API_LISTS, one_of_everything
from tests.conftest import _user_with_role
from tests.ingest_helpers import make_event


def _session_cookie(user) -> str:
    browser = DjangoClient()
    browser.force_login(user)
    return f"sessionid={browser.cookies['sessionid'].value}"


@pytest.fixture
def sessions(live_server):
    """Demo data, and a logged-in session cookie per role."""
    call_command("seed_demo", "--scale", "0.05", "--seed", "3")
    source, _ = create_source(name="gw-conformance")
    ingest_events(source=source, events=[make_event(tool=f"t{i % 3}") for i in range(6)])
    return {
        role: _session_cookie(_user_with_role(f"fuzz-{role.lower()}", role))
        for role in (VIEWER, ADMIN)
    }


def _get_operations(live_server, cookie):
    """Every GET operation of the schema the live server publishes to a logged-in Viewer."""
    schema = schemathesis.openapi.from_url(
        f"{live_server.url}/api/v1/schema/?format=json", headers={"Cookie": cookie}
    )
    operations = [result.ok() for result in schema.include(method="GET").get_all_operations()]
    assert len(operations) > 20  # every list and detail endpoint, not an empty schema
    return operations


# 5xx, undocumented status codes, content types and headers, and bodies that break the schema.
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
    checks.response_schema_conformance,
]


def _summary(exc: BaseException) -> str:
    """Schemathesis' one-line names of what failed (e.g. "- ST108 Response violates schema")."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(line for line in lines if line.startswith("- ")) or lines[0]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("role", [VIEWER, ADMIN])
def test_every_get_operation_answers_as_its_schema_says(live_server, sessions, role):
    cookie, failures = sessions[role], []
    for operation in _get_operations(live_server, sessions[VIEWER]):

        @given(case=operation.as_strategy())
        @settings(
            max_examples=8,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def call_and_check(case):
            response = case.call(base_url=live_server.url, headers={"Cookie": cookie})
            case.validate_response(response, checks=CHECKS)

        try:
            call_and_check()
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - report every operation
            failures.append(f"{operation.label}: {_summary(exc)}")
    assert not failures, "\n".join(failures)


def _component(schema: dict, response: dict) -> dict:
    ref = response["content"]["application/json"]["schema"]["$ref"]
    return schema["components"]["schemas"][ref.rsplit("/", 1)[1]]


@pytest.mark.django_db
def test_every_served_object_has_exactly_the_fields_its_schema_lists(admin_client_):
    """Stricter than schemathesis (which allows undocumented extra fields): served == documented,
    for one row of every list and its detail endpoint."""
    one_of_everything()
    schema = admin_client_.get("/api/v1/schema/?format=json").json()
    for name in API_LISTS:
        list_ok = schema["paths"][f"/api/v1/{name}/"]["get"]["responses"]["200"]
        page = _component(schema, list_ok)
        row_schema = page["properties"]["results"]["items"]["$ref"].rsplit("/", 1)[1]
        row = admin_client_.get(f"/api/v1/{name}/").json()["results"][0]
        listed = set(schema["components"]["schemas"][row_schema]["properties"])
        assert set(row) == listed, (name, set(row) ^ listed)
        detail_ok = schema["paths"][f"/api/v1/{name}/{{id}}/"]["get"]["responses"]["200"]
        detail = admin_client_.get(f"/api/v1/{name}/{row['id']}/").json()
        assert set(detail) == set(_component(schema, detail_ok)["properties"]), name
