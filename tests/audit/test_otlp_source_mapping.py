"""An Admin maps a source's own OTLP attribute names to canonical fields on the source page;
the next export through the live server reads them."""

import pytest
from django.db import IntegrityError, transaction
from opentelemetry.sdk.trace.export import SpanExportResult

from audit.models import AuditEvent, EventSource
from audit.services.sources import create_source
from governance.access.models import AdminAction
from inventory.models import Client, Identity
from tests.otlp_support import SERVER_RESOURCE, export_spans, make_tracer, record_sdk_server_call


def _page(source) -> str:
    return f"/audit/sources/{source.pk}/"


@pytest.mark.django_db(transaction=True)
def test_an_admin_maps_a_gateway_attribute_to_client_id_and_the_next_export_uses_it(
    live_server, admin_client_
):
    source, token = create_source(name="edge-gateway")
    reply = admin_client_.post(
        _page(source),
        {"mapping": "client.id = gw.app_id, x.client  # our gateway's names\nactor.id = gw.sub"},
    )
    assert reply.status_code == 302
    source.refresh_from_db()
    assert source.otlp_attribute_map == {
        "client.id": ["gw.app_id", "x.client"],
        "actor.id": ["gw.sub"],
    }
    action = AdminAction.objects.get(action="eventsource.attribute_map_updated")
    assert action.before["otlp_attribute_map"] == {}
    assert action.after["otlp_attribute_map"] == source.otlp_attribute_map
    assert "gw.app_id, x.client" in admin_client_.get(_page(source)).content.decode()

    tracer, memory = make_tracer(SERVER_RESOURCE)
    record_sdk_server_call(tracer, 1, attributes={"x.client": "crm-sync", "gw.sub": "svc-7"})
    result = export_spans(
        memory.get_finished_spans(),
        live_server.url + "/v1/traces",
        headers={"Authorization": f"Bearer {token}"},
    )

    assert result == SpanExportResult.SUCCESS
    event = AuditEvent.objects.get(source=source)
    assert (event.client_ref, event.actor_subject) == ("crm-sync", "svc-7")
    assert Client.objects.filter(client_id="crm-sync").exists()
    # A user acted (gw.sub): the client gets no service identity of its own.
    assert Identity.objects.get(subject="svc-7").kind == Identity.Kind.HUMAN
    assert not Identity.objects.filter(subject="crm-sync").exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("owner = gw.owner", "owner: is not a mappable field"),
        ("client.id = oauth.client_id", "'oauth.client_id' is read by the console already"),
        ("client.id = gw.app\nactor.id = gw.app", "'gw.app' is mapped to client.id already"),
        ("client.id = has space", "is not an attribute name"),
        ("client.id gw.app", "line 1: expected 'field = attribute, attribute'"),
        ("client.id = ", "client.id: needs 1 to 10 attribute names"),
        ("tool = a\ntool = b", "tool: appears twice (line 2)"),
    ],
)
def test_an_invalid_mapping_is_refused_with_400_naming_the_field_and_nothing_changes(
    admin_client_, text, named
):
    source, _ = create_source(name="edge-gateway")
    reply = admin_client_.post(_page(source), {"mapping": text})
    assert reply.status_code == 400
    assert named in reply.content.decode().replace("&#x27;", "'")
    assert EventSource.objects.get(pk=source.pk).otlp_attribute_map == {}
    assert not AdminAction.objects.filter(action="eventsource.attribute_map_updated").exists()


@pytest.mark.django_db
def test_only_admins_see_or_change_a_source_mapping(viewer_client):
    source, _ = create_source(name="edge-gateway")
    assert viewer_client.get(_page(source)).status_code == 403
    assert viewer_client.post(_page(source), {"mapping": "client.id = x"}).status_code == 403
    assert EventSource.objects.get(pk=source.pk).otlp_attribute_map == {}


@pytest.mark.django_db
def test_the_database_refuses_a_mapping_that_is_not_an_object():
    source, _ = create_source(name="edge-gateway")
    with pytest.raises(IntegrityError), transaction.atomic():
        EventSource.objects.filter(pk=source.pk).update(otlp_attribute_map=["client.id"])
