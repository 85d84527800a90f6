"""The shell every page relies on: login everywhere, health check, roles."""

import pytest


@pytest.mark.django_db
def test_anonymous_users_are_sent_to_login_for_pages(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.django_db
def test_anonymous_api_calls_get_401_not_a_login_redirect(client):
    assert client.get("/api/v1/").status_code == 401


@pytest.mark.django_db
def test_healthz_reports_database_and_broker_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_a_user_without_a_role_is_forbidden_not_crashed(nobody_client):
    assert nobody_client.get("/").status_code == 403


@pytest.mark.django_db
def test_admin_action_log_is_for_admins_only(viewer_client):
    assert viewer_client.get("/governance/actions/").status_code == 403


@pytest.fixture
def unreachable_broker():
    from governance.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    yield
    app.conf.broker_url = original


@pytest.mark.django_db
def test_healthz_says_503_and_names_the_broker_when_it_is_unreachable(client, unreachable_broker):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"].startswith("error")


@pytest.mark.django_db
def test_admins_find_event_sources_from_the_audit_and_governance_pages(admin_client_):
    for page in ("/audit/", "/governance/"):
        assert 'href="/audit/sources/"' in admin_client_.get(page).content.decode()


@pytest.mark.django_db
def test_viewers_are_not_shown_the_admin_only_links(viewer_client):
    for page in ("/audit/", "/governance/"):
        assert 'href="/audit/sources/"' not in viewer_client.get(page).content.decode()


def test_every_beat_entry_names_a_registered_task_and_the_chain_is_verified_daily():
    from governance.celery import app

    app.loader.import_default_modules()
    schedule = app.conf.beat_schedule
    assert {entry["task"] for entry in schedule.values()} <= set(app.tasks)
    assert schedule["audit-verify-chain"]["task"] == "audit.tasks.verify_audit_chain"
    assert schedule["audit-verify-chain"]["schedule"] == 86400
