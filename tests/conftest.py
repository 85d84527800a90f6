"""Shared fixtures: one logged-in client per role, a user with no role, a local document server,
company sign-in against a test IdP."""

import pytest
from django.contrib.auth.models import Group, User

from governance.access.roles import ADMIN, AUDITOR, VIEWER
from tests.fetch_server import LocalServer
from tests.sso_peer import sign_in_peer


def _user_with_role(username: str, role: str | None) -> User:
    user = User.objects.create_user(username=username, password="correct-horse-battery")
    if role:
        group, _ = Group.objects.get_or_create(name=role)
        user.groups.add(group)
    return user


@pytest.fixture
def viewer(db):
    return _user_with_role("vera-viewer", VIEWER)


@pytest.fixture
def auditor(db):
    return _user_with_role("aude-auditor", AUDITOR)


@pytest.fixture
def admin_user(db):
    return _user_with_role("ada-admin", ADMIN)


@pytest.fixture
def nobody(db):
    return _user_with_role("no-role", None)


def _client_for(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    return _client_for(client, viewer)


@pytest.fixture
def auditor_client(client, auditor):
    return _client_for(client, auditor)


@pytest.fixture
def admin_client_(client, admin_user):
    """Logged in as a user holding the Admin role (not a Django superuser)."""
    return _client_for(client, admin_user)


@pytest.fixture
def nobody_client(client, nobody):
    return _client_for(client, nobody)


@pytest.fixture
def local_server(settings):
    """A started LocalServer (tests/fetch_server.py) the fetcher may reach; stopped after the test.

    127.0.0.1 is allowlisted (the fetcher refuses loopback otherwise) and a fetch gives up after
    2 s. A module needing other fetch settings overrides this fixture, requesting it by name.
    """
    settings.FETCH_ALLOWLIST = ["127.0.0.1"]
    settings.DISCOVERY_FETCH_TIMEOUT = 2.0
    srv = LocalServer().start()
    yield srv
    srv.stop()


@pytest.fixture(autouse=True)
def _empty_audit_store_after_transactional_tests(request):
    """Django's flush skips unmanaged models, so the raw-SQL audit tables (events, dedup keys,
    rate windows) would leak from one transactional test into the next: empty them too."""
    marker = request.node.get_closest_marker("django_db")
    transactional = (
        (marker is not None and marker.kwargs.get("transaction"))
        or "live_server" in request.fixturenames
        or "transactional_db" in request.fixturenames
    )
    if not transactional:
        yield
        return
    request.getfixturevalue("transactional_db")  # so this teardown runs while the db is open
    yield
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE audit_event, audit_event_dedup, audit_rate_window")
    from audit.source_auth import forget_rate_windows

    forget_rate_windows()
    from audit.services import fresh_tools

    fresh_tools.forget()  # the tool rows it remembers are gone


@pytest.fixture
def sso_console(live_server, settings, transactional_db):
    """Company sign-in turned on against a fresh sign-in IdP (tests/sso_peer.py) for Django's
    live server: yields (console URL, SignInPeer). Skips without Node or the peer's packages."""
    with sign_in_peer(live_server.url) as idp:
        for name, value in idp.console_settings().items():
            setattr(settings, name, value)
        yield live_server.url, idp
