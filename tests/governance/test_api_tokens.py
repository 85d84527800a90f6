"""API tokens: bearer auth on the API, scopes capped by the owner's role, expiry, revocation,
hashed at rest, recorded; Basic auth refused with a 401 that says what the API accepts."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import httpx
import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from audit.services.ingest import ingest_events
from audit.services.sources import create_source
from governance.access import api_tokens
from governance.access.models import AdminAction, ApiToken
from governance.access.roles import AUDITOR, VIEWER
from tests.ingest_helpers import make_event

pytestmark = pytest.mark.django_db(transaction=True)


def _bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def api(live_server):
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        yield http


@pytest.fixture
def event_id():
    source, _ = create_source(name="gw-tokens")
    ingest_events(source=source, events=[make_event(tool="crm.search")])
    from audit.models import AuditEvent

    return AuditEvent.objects.values_list("pk", flat=True).first()


def test_a_token_reads_the_api_and_only_its_hash_is_stored(api, viewer):
    token, secret = api_tokens.create_token(actor=viewer, name="ci", scope="read")
    response = api.get("/api/v1/identities/", headers=_bearer(secret))
    assert response.status_code == 200, response.text
    stored = ApiToken.objects.get(pk=token.pk)
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiToken.objects.filter(pk=token.pk).values().first())
    assert stored.last_used_at is not None


def test_a_revoked_or_expired_or_unknown_token_gets_401_saying_invalid_or_expired(api, viewer):
    revoked, revoked_secret = api_tokens.create_token(actor=viewer, name="a", scope="read")
    api_tokens.revoke_token(actor=viewer, token_id=revoked.pk)
    expired, expired_secret = api_tokens.create_token(actor=viewer, name="b", scope="read")
    ApiToken.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    for secret in (revoked_secret, expired_secret, "mgc_not-a-token"):
        response = api.get("/api/v1/identities/", headers=_bearer(secret))
        assert response.status_code == 401
        assert response.json()["detail"] == "Invalid or expired API token."


def test_a_read_token_of_an_admin_cannot_see_payloads_or_admin_endpoints(api, admin_user, event_id):
    _, read = api_tokens.create_token(actor=admin_user, name="r", scope="read")
    _, full = api_tokens.create_token(actor=admin_user, name="f", scope="admin")
    assert api.get("/api/v1/event-sources/", headers=_bearer(read)).status_code == 403
    assert api.get("/api/v1/event-sources/", headers=_bearer(full)).status_code == 200
    assert (
        "payload" not in api.get(f"/api/v1/audit-events/{event_id}/", headers=_bearer(read)).json()
    )
    assert api.post("/api/v1/registries/999999/crawl/", headers=_bearer(read)).status_code == 403
    assert api.post("/api/v1/registries/999999/crawl/", headers=_bearer(full)).status_code == 404


def test_a_read_token_of_a_superuser_cannot_use_admin_endpoints(api, django_user_model):
    root = django_user_model.objects.create_superuser("root-tokens", password="x")
    _, read = api_tokens.create_token(actor=root, name="r", scope="read")
    assert api.get("/api/v1/identities/", headers=_bearer(read)).status_code == 200
    assert api.get("/api/v1/event-sources/", headers=_bearer(read)).status_code == 403


def test_an_export_token_of_an_auditor_reads_audit_payloads(api, auditor, event_id):
    _, secret = api_tokens.create_token(actor=auditor, name="siem", scope="export")
    body = api.get(f"/api/v1/audit-events/{event_id}/", headers=_bearer(secret)).json()
    assert "payload" in body


def test_a_token_never_exceeds_its_owners_current_role(api, admin_user):
    _, secret = api_tokens.create_token(actor=admin_user, name="ops", scope="admin")
    assert api.get("/api/v1/event-sources/", headers=_bearer(secret)).status_code == 200
    admin_user.groups.set([Group.objects.get_or_create(name=VIEWER)[0]])  # demoted
    assert api.get("/api/v1/event-sources/", headers=_bearer(secret)).status_code == 403
    assert api.get("/api/v1/identities/", headers=_bearer(secret)).status_code == 200
    admin_user.groups.clear()
    assert api.get("/api/v1/identities/", headers=_bearer(secret)).status_code == 403


def test_nobody_can_create_a_token_above_their_role_or_for_someone_else(viewer, auditor):
    with pytest.raises(api_tokens.TokenRefused, match="scope"):
        api_tokens.create_token(actor=viewer, name="x", scope="export")
    with pytest.raises(api_tokens.TokenRefused, match="owner"):
        api_tokens.create_token(actor=viewer, name="x", scope="read", owner=auditor)
    with pytest.raises(api_tokens.TokenRefused, match="expires_in_days"):
        api_tokens.create_token(actor=viewer, name="x", scope="read", days=100000)


def test_basic_auth_is_refused_with_a_401_that_says_what_the_api_accepts(api, admin_user):
    admin_user.set_password("correct horse battery")
    admin_user.save()
    basic = base64.b64encode(b"ada-admin:correct horse battery").decode()
    response = api.get("/api/v1/identities/", headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 401
    assert "Bearer" in response.json()["detail"] and "Basic" in response.json()["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_ingest_still_takes_only_a_sources_token_not_an_api_token(api, admin_user):
    _, secret = api_tokens.create_token(actor=admin_user, name="ops", scope="admin")
    response = api.post("/api/v1/events", headers=_bearer(secret), json=[make_event()])
    assert response.status_code == 401
    source, source_secret = create_source(name="gw-ingest")
    response = api.post("/api/v1/events", headers=_bearer(source_secret), json=[make_event()])
    assert response.status_code < 300, response.text


def test_create_and_revoke_are_recorded_without_the_secret(admin_user):
    token, secret = api_tokens.create_service_token(
        actor=admin_user, service="siem-export", scope="export"
    )
    api_tokens.revoke_token(actor=admin_user, token_id=token.pk)
    actions = list(
        AdminAction.objects.filter(object_type="governance.apitoken").values_list(
            "action", flat=True
        )
    )
    assert sorted(actions) == ["api_token.created", "api_token.revoked"]
    dumped = str(list(AdminAction.objects.values()))
    assert secret not in dumped and token.secret_hash not in dumped
    assert token.user.username == "svc-siem-export" and not token.user.has_usable_password()
    assert api_tokens.effective_role(token) == AUDITOR


def test_last_used_is_written_at_most_once_a_minute(api, viewer):
    token, secret = api_tokens.create_token(actor=viewer, name="ci", scope="read")
    api.get("/api/v1/identities/", headers=_bearer(secret))
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    api.get("/api/v1/identities/", headers=_bearer(secret))
    assert ApiToken.objects.get(pk=token.pk).last_used_at == first
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    api.get("/api/v1/identities/", headers=_bearer(secret))
    assert ApiToken.objects.get(pk=token.pk).last_used_at > first - timedelta(minutes=2)
