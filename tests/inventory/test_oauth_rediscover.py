"""An Admin's re-discovery of one remote is recorded by the service, so any caller records it."""

import pytest
from django.urls import reverse
from django.utils import timezone

from governance.access.models import AdminAction
from inventory.models import Server, ServerRemote
from inventory.services import oauth_metadata

pytestmark = pytest.mark.django_db


def remote_at(url):
    now = timezone.now()
    server = Server.objects.create(name="com.acme/crm", first_seen=now, last_seen=now)
    return ServerRemote.objects.create(server=server, url=url, first_seen=now, last_seen=now)


def test_the_service_records_a_rediscovery_even_when_the_fetch_is_refused(admin_user):
    # 10.0.0.1 is a private address: the SSRF-safe fetcher refuses it without a connection.
    remote = remote_at("https://10.0.0.1/mcp")
    prm = oauth_metadata.rediscover_remote(remote, actor=admin_user)
    assert not prm.fetch_ok
    action = AdminAction.objects.get(action="server.oauth_discovery_requested")
    assert action.after == {"remote": remote.url} and action.actor_repr == str(admin_user)


def test_the_rediscover_button_records_once_through_the_service(admin_client_):
    remote = remote_at("https://10.0.0.1/mcp")
    response = admin_client_.post(reverse("inventory:server_remote_discover", args=[remote.pk]))
    assert response.status_code == 302
    assert AdminAction.objects.filter(action="server.oauth_discovery_requested").count() == 1
