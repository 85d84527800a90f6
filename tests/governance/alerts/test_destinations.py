"""Destinations as an Admin sets them up (issue 14 §4): the checks name the field, the secret is
stored encrypted and never shown back, every change is recorded, "Send test" reaches the real
receiver and says what happened; Auditors read, only Admins change."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from governance.access.models import AdminAction
from governance.access.secrets import decrypt
from governance.alerts import services
from governance.alerts.models import Delivery, Destination
from tests.governance.alerts.conftest import HEC_TOKEN, WEBHOOK_SECRET

pytestmark = pytest.mark.django_db


def webhook(admin_user, url: str, name="SOC hook", secret=WEBHOOK_SECRET):
    return services.create_destination(
        actor=admin_user, kind="webhook", values={"name": name, "url": url}, secret=secret
    )


# --- services --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind,values,secret,field",
    [
        ("webhook", {"name": "w", "url": "ftp://x.example/"}, WEBHOOK_SECRET, "url"),
        ("webhook", {"name": "w", "url": "http://siem.corp.example/"}, WEBHOOK_SECRET, "url"),
        # A name that merely starts like a loopback address is not one: no plain http to it.
        ("webhook", {"name": "w", "url": "http://127.evil.example/"}, WEBHOOK_SECRET, "url"),
        ("webhook", {"name": "w", "url": "https://169.254.169.254/"}, WEBHOOK_SECRET, "url"),
        ("webhook", {"name": "w", "url": "https://u:p@x.example/"}, WEBHOOK_SECRET, "url"),
        ("webhook", {"name": "w", "url": "https://x.example/"}, "not-a-whsec", "secret"),
        ("webhook", {"name": "w", "url": "https://x.example/"}, "", "secret"),
        ("splunk_hec", {"name": "h", "url": "https://splunk:8088"}, "", "secret"),
        ("syslog", {"name": "s", "port": 6514, "syslog_transport": "tls"}, "", "host"),
        ("syslog", {"name": "s", "host": "siem", "port": 0, "syslog_transport": "tcp"}, "", "port"),
        (
            "syslog",
            {"name": "s", "host": "siem", "port": 70000, "syslog_transport": "tcp"},
            "",
            "port",
        ),
        (
            "syslog",
            {"name": "s", "host": "siem", "port": 514, "syslog_transport": "udp"},
            "",
            "syslog_transport",
        ),
        (
            "syslog",
            {"name": "s", "host": "fe80::1", "port": 514, "syslog_transport": "tcp"},
            "",
            "host",
        ),
        (
            "syslog",
            {
                "name": "s",
                "host": "siem",
                "port": 6514,
                "syslog_transport": "tls",
                "tls_ca_pem": "-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----",
            },
            "",
            "tls_ca_pem",
        ),
        ("email", {"name": "e", "email_to": "sec@example.com, not-an-address"}, "", "email_to"),
        ("email", {"name": "e", "email_to": ""}, "", "email_to"),
        (
            "email",
            {"name": "e", "email_to": "a@b.example", "forward_events": True},
            "",
            "forward_events",
        ),
        (
            "email",
            {"name": "e", "email_to": "a@b.example", "min_severity": "urgent"},
            "",
            "min_severity",
        ),
        ("email", {"name": "e", "email_to": "a@b.example", "kinds": ["no.such.rule"]}, "", "kinds"),
        (
            "email",
            {
                "name": "e",
                "email_to": "a@b.example",
                "repeat_interval_seconds": 100,
                "group_interval_seconds": 300,
            },
            "",
            "repeat_interval_seconds",
        ),
        ("email", {"name": "", "email_to": "a@b.example"}, "", "name"),
        ("pager", {"name": "p"}, "", "kind"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(kind, values, secret, field):
    with pytest.raises(ValidationError) as refused:
        services.create_destination(actor=None, kind=kind, values=values, secret=secret)
    assert field in refused.value.message_dict
    assert not Destination.objects.exists()


def test_a_valid_syslog_destination_with_a_private_ca_is_stored(admin_user, tls_material):
    destination = services.create_destination(
        actor=admin_user,
        kind="syslog",
        values={
            "name": "SIEM",
            "host": "10.0.0.5",
            "port": 6514,
            "syslog_transport": "tls",
            "tls_ca_pem": tls_material.ca_pem,
            "forward_events": True,
            "event_format": "cef",
        },
    )
    assert (destination.host, destination.port, destination.url) == ("10.0.0.5", 6514, "")
    assert destination.tls_ca_pem.startswith("-----BEGIN CERTIFICATE-----")


def test_the_secret_is_encrypted_and_the_record_hides_it(admin_user):
    destination = webhook(admin_user, "https://hooks.corp.example/mcp")
    assert WEBHOOK_SECRET not in destination.secret_encrypted
    assert decrypt(destination.secret_encrypted) == WEBHOOK_SECRET
    record = AdminAction.objects.get(action="destination.created")
    assert WEBHOOK_SECRET not in str(record.after)
    assert record.after["secret_encrypted"] == "[hidden]"


def test_an_update_keeps_the_secret_unless_a_new_one_is_given(admin_user):
    destination = webhook(admin_user, "https://hooks.corp.example/mcp")
    stored = destination.secret_encrypted
    services.update_destination(
        actor=admin_user, destination=destination, values={"min_severity": "warning"}
    )
    destination.refresh_from_db()
    assert (destination.secret_encrypted, destination.min_severity) == (stored, "warning")
    services.update_destination(
        actor=admin_user, destination=destination, values={}, secret="whsec_" + "QUJD" * 8
    )
    destination.refresh_from_db()
    assert decrypt(destination.secret_encrypted) == "whsec_" + "QUJD" * 8
    record = AdminAction.objects.filter(action="destination.updated").first()
    assert record.after["secret_encrypted"] == "[hidden, changed]"


def test_the_kind_cannot_change_and_names_must_be_unique(admin_user):
    destination = webhook(admin_user, "https://a.example/")
    with pytest.raises(ValidationError) as refused:
        services.update_destination(
            actor=admin_user, destination=destination, values={"kind": "email"}
        )
    assert "kind" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        webhook(admin_user, "https://b.example/", name="SOC hook")
    assert "name" in refused.value.message_dict


def test_send_test_reaches_the_receiver_and_is_recorded(admin_user, webhook_receiver):
    destination = webhook(admin_user, webhook_receiver.url + "/hook")
    result = services.send_test(destination, admin_user)
    assert result.ok
    [request] = webhook_receiver.wait_for(1)
    assert request.payload["type"] == "test"
    assert request.webhook_id.startswith(f"test-{destination.pk}-")
    destination.refresh_from_db()
    assert destination.last_test_ok is True and destination.last_test_at
    assert AdminAction.objects.filter(action="destination.tested", note="ok").exists()


def test_send_test_to_a_receiver_that_is_down_says_why(admin_user, hec_receiver):
    destination = services.create_destination(
        actor=admin_user,
        kind="splunk_hec",
        values={"name": "splunk", "url": hec_receiver.url},
        secret=HEC_TOKEN,
    )
    hec_receiver.down()
    result = services.send_test(destination, admin_user)
    assert not result.ok and result.retryable
    assert "cannot connect" in result.detail
    destination.refresh_from_db()
    assert destination.last_test_ok is False and destination.last_test_detail == result.detail


def test_send_test_by_email_reaches_the_smtp_server(admin_user, smtp_receiver):
    destination = services.create_destination(
        actor=admin_user, kind="email", values={"name": "mail", "email_to": "soc@example.com"}
    )
    assert services.send_test(destination, admin_user).ok
    [mail] = smtp_receiver.wait_for(1)
    assert mail.rcpt_tos == ["soc@example.com"] and "test message" in mail.text


# --- pages -----------------------------------------------------------------------------------


def test_an_admin_adds_a_webhook_through_the_form(admin_client_, webhook_receiver):
    response = admin_client_.post(
        reverse("alerts:destination_create"),
        {
            "kind": "webhook",
            "name": "SOC hook",
            "enabled": "on",
            "url": webhook_receiver.url + "/hook",
            "secret": WEBHOOK_SECRET,
            "send_findings": "on",
            "min_severity": "high",
            "group_by": "kind",
            "group_wait_seconds": 1,
            "group_interval_seconds": 300,
            "repeat_interval_seconds": 14400,
            "event_format": "json",
        },
    )
    destination = Destination.objects.get(name="SOC hook")
    assert response.status_code == 302
    assert response["Location"] == reverse("alerts:destination_detail", args=[destination.pk])
    page = admin_client_.get(response["Location"]).content.decode()
    assert "SOC hook" in page and WEBHOOK_SECRET not in page and "never shown" in page
    edit = admin_client_.get(reverse("alerts:destination_update", args=[destination.pk]))
    assert WEBHOOK_SECRET not in edit.content.decode()


def test_the_form_shows_the_service_error_on_its_field(admin_client_):
    response = admin_client_.post(
        reverse("alerts:destination_create"),
        {
            "kind": "webhook",
            "name": "bad",
            "url": "http://siem.corp.example/",
            "secret": WEBHOOK_SECRET,
            "min_severity": "high",
            "group_by": "kind",
            "group_wait_seconds": 1,
            "group_interval_seconds": 300,
            "repeat_interval_seconds": 14400,
            "event_format": "json",
        },
    )
    assert response.status_code == 400
    assert "plain http is allowed only to this machine" in response.context["form"].errors["url"][0]


def test_send_test_button_answers_htmx_with_the_result(admin_user, admin_client_, webhook_receiver):
    destination = webhook(admin_user, webhook_receiver.url + "/hook")
    response = admin_client_.post(
        reverse("alerts:destination_test", args=[destination.pk]), HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    assert 'id="destination-test-result"' in response.content.decode()
    assert "delivered" in response.content.decode()
    assert "<html" not in response.content.decode()


def test_the_list_shows_test_status_counts_and_filters_by_kind(admin_user, auditor_client):
    destination = webhook(admin_user, "https://a.example/")
    services.create_destination(
        actor=admin_user, kind="email", values={"name": "mail", "email_to": "a@b.example"}
    )
    Delivery.objects.create(
        destination=destination,
        idempotency_key="dead-1",
        payload={},
        status="dead",
        next_attempt_at="2026-12-05T00:00:00Z",
        dead_at="2026-12-05T00:00:00Z",
    )
    page = auditor_client.get(reverse("alerts:destination_list")).content.decode()
    assert "SOC hook" in page and "mail" in page and "?destination=" in page
    only_webhooks = auditor_client.get(reverse("alerts:destination_list") + "?kind=webhook")
    assert [d.name for d in only_webhooks.context["destinations"]] == ["SOC hook"]
    dead = auditor_client.get(reverse("alerts:dead_letter_list")).content.decode()
    assert "dead-1" in dead and 'name="delivery"' not in dead  # Auditors cannot replay


def test_replay_without_a_choice_says_so(admin_client_):
    response = admin_client_.post(reverse("alerts:dead_letter_replay"), follow=True)
    assert "Choose the dead letters" in response.content.decode()


def test_deleting_a_destination_is_confirmed_and_recorded(admin_user, admin_client_):
    destination = webhook(admin_user, "https://a.example/")
    url = reverse("alerts:destination_delete", args=[destination.pk])
    assert "Delete SOC hook?" in admin_client_.get(url).content.decode()
    assert admin_client_.post(url).status_code == 302
    assert not Destination.objects.exists()
    assert AdminAction.objects.filter(action="destination.deleted").exists()


# --- API -------------------------------------------------------------------------------------


def test_the_api_creates_reads_and_tests_without_ever_returning_the_secret(
    admin_client_, webhook_receiver
):
    created = admin_client_.post(
        "/api/v1/alert-destinations/",
        {
            "name": "api hook",
            "kind": "webhook",
            "url": webhook_receiver.url,
            "secret": WEBHOOK_SECRET,
        },
        content_type="application/json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["secret_set"] is True and "secret" not in body and "secret_encrypted" not in body
    listed = admin_client_.get("/api/v1/alert-destinations/").content.decode()
    assert WEBHOOK_SECRET not in listed and "secret_encrypted" not in listed
    tested = admin_client_.post(f"/api/v1/alert-destinations/{body['id']}/send-test/")
    assert tested.status_code == 200 and tested.json()["ok"] is True
    assert webhook_receiver.wait_for(1)


def test_api_errors_name_the_field(admin_client_):
    response = admin_client_.post(
        "/api/v1/alert-destinations/",
        {"name": "s", "kind": "syslog", "host": "siem", "port": 99999, "syslog_transport": "tcp"},
        content_type="application/json",
    )
    assert response.status_code == 400 and "port" in response.json()
    patched = admin_client_.patch(
        "/api/v1/alert-destinations/999999/", {}, content_type="application/json"
    )
    assert patched.status_code == 404


def test_every_alerts_page_renders_under_the_content_security_policy(admin_user, admin_client_):
    from tests.governance.test_csp import ALLOWED_SCRIPT, INLINE_HANDLER

    destination = webhook(admin_user, "https://a.example/")
    Delivery.objects.create(
        destination=destination,
        idempotency_key="dead-2",
        payload={},
        status="dead",
        next_attempt_at="2026-12-05T00:00:00Z",
        dead_at="2026-12-05T00:00:00Z",
    )
    pages = [
        reverse("alerts:destination_list"),
        reverse("alerts:destination_create"),
        reverse("alerts:destination_create") + "?kind=syslog",
        reverse("alerts:destination_detail", args=[destination.pk]),
        reverse("alerts:destination_update", args=[destination.pk]),
        reverse("alerts:destination_delete", args=[destination.pk]),
        reverse("alerts:dead_letter_list"),
    ]
    for url in pages:
        response = admin_client_.get(url)
        assert response.status_code == 200, url
        html = response.content.decode()
        assert "<script" not in ALLOWED_SCRIPT.sub("", html), url
        assert not INLINE_HANDLER.search(html) and " style=" not in html, url


def test_the_api_list_filters_as_declared_and_names_a_bad_filter(admin_user, auditor_client):
    webhook(admin_user, "https://a.example/")
    services.create_destination(
        actor=admin_user, kind="email", values={"name": "mail", "email_to": "a@b.example"}
    )
    rows = auditor_client.get("/api/v1/alert-destinations/?kind=email").json()
    names = [row["name"] for row in rows.get("results", rows)]
    assert names == ["mail"]
    bad = auditor_client.get("/api/v1/alert-destinations/?kind=pager")
    assert bad.status_code == 400 and "kind" in bad.json()
    unknown = auditor_client.get("/api/v1/alert-destinations/?colour=red")
    assert unknown.status_code == 400 and "colour" in unknown.json()
    page = auditor_client.get(reverse("alerts:destination_list") + "?kind=pager")
    assert (
        page.status_code == 400 and "kind: &#x27;pager&#x27; is not one of" in page.content.decode()
    )


def test_the_empty_list_says_how_to_add_a_destination_and_what_send_test_does(admin_client_):
    page = admin_client_.get(reverse("alerts:destination_list")).content.decode()
    assert "No destination yet." in page and "Add a destination" in page
    assert "Send test" in page and "what the receiver answered" in page


def test_the_api_lists_dead_letters_and_an_admin_replays_them(admin_user, admin_client_):
    hook = webhook(admin_user, "http://127.0.0.1:9/hook", name="siem")
    dead = Delivery.objects.create(
        destination=hook,
        idempotency_key="msg_dead_1",
        payload={"type": "findings.opened"},
        status=Delivery.Status.DEAD,
        next_attempt_at=timezone.now(),
        dead_at=timezone.now(),
        attempts=8,
        last_error="the webhook receiver answered 400 Bad Request",
    )
    rows = admin_client_.get(f"/api/v1/alert-dead-letters/?destination={hook.pk}").json()
    assert [(r["id"], r["destination_name"], r["attempts"]) for r in rows["results"]] == [
        (dead.pk, "siem", 8)
    ]
    assert admin_client_.get("/api/v1/alert-dead-letters/?destination=x").status_code == 400
    refused = admin_client_.post(
        "/api/v1/alert-dead-letters/replay/", {}, content_type="application/json"
    )
    assert refused.status_code == 400 and "ids" in refused.json()
    answer = admin_client_.post(
        "/api/v1/alert-dead-letters/replay/", {"ids": [dead.pk]}, content_type="application/json"
    )
    assert answer.status_code == 200 and answer.json() == {"replayed": 1}
    dead.refresh_from_db()
    assert dead.status == Delivery.Status.PENDING and dead.idempotency_key == "msg_dead_1"
    assert AdminAction.objects.filter(action="delivery.replayed").count() == 1
