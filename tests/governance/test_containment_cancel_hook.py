"""The cancel hook contract (docs/events.md "Cancel hook") against a gateway on 127.0.0.1 that
verifies every request with the Standard Webhooks reference library."""

import json
from datetime import UTC, datetime

import pytest
from django.db import connection
from standardwebhooks import Webhook, WebhookVerificationError

from audit.models import EventSource
from audit.services.sources import (
    clear_cancel_hook,
    create_source,
    new_hook_secret,
    set_cancel_hook,
)
from governance.access.secrets import decrypt
from governance.containment import cancel_hook, orphans, runner
from governance.containment.models import Revocation, RevocationStep
from governance.models import AdminAction
from governance.platform import jobs
from inventory.models import Server, Task
from tests.fetch_server import Route

pytestmark = pytest.mark.django_db
NOW = datetime.now(UTC)


class Gateway:
    """The receiving end: verifies the signature over the exact bytes, remembers what it got,
    and answers with the next of `answers` (the last one repeated)."""

    def __init__(self, server, secret: str, *answers: Route):
        self.webhook, self.answers, self.received = Webhook(secret), list(answers), []
        server.routes["/hooks/cancel"] = self

    def __call__(self, handler) -> Route:
        _, _, headers, body = handler.server.requests[-1]
        try:
            payload = self.webhook.verify(body, headers)
        except WebhookVerificationError as exc:
            return Route(status=401, body={"error": str(exc)})
        self.received.append((headers, payload))
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture
def source(local_server):
    source = create_source(name="gw-hook")[0]
    secret = set_cancel_hook(source=source, url=local_server.url("/hooks/cancel"))
    return source, secret


@pytest.fixture
def step(source):
    """A cancel_tasks step of a revocation for two running tasks of the source."""
    server = Server.objects.create(name="io.github.acme/reports", first_seen=NOW, last_seen=NOW)
    tasks = [
        Task.objects.create(
            task_id=f"t{n}", server=server, session_id=f"s{n}", first_seen=NOW, last_seen=NOW
        )
        for n in (1, 2)
    ]
    rev = Revocation.objects.create(
        action="client", target_key="client:9", reason="stolen laptop", queued_at=NOW
    )
    planned = orphans._cancel_step(source[0], tasks)
    return RevocationStep.objects.create(
        revocation=rev,
        position=3,
        kind=planned.kind,
        operation=planned.operation,
        description=planned.description,
        target=planned.target,
    )


def owner_actions() -> set[str]:
    return set(Task.objects.values_list("owner_action", flat=True))


def test_the_gateway_gets_the_task_ids_signed_and_its_cancelled_list_is_recorded(
    local_server, source, step
):
    gateway = Gateway(local_server, source[1], Route(status=202, body={"cancelled": ["t1", "t2"]}))

    summary = orphans.run_task_step(step, step.revocation)

    ((headers, payload),) = gateway.received
    assert payload == {
        "type": "tasks.cancel",
        "revocation": step.revocation.pk,
        "tasks": [
            {"task_id": "t1", "session_id": "s1", "server": "io.github.acme/reports"},
            {"task_id": "t2", "session_id": "s2", "server": "io.github.acme/reports"},
        ],
        "reason": "stolen laptop",
    }
    assert headers["webhook-signature"].startswith("v1,")
    assert summary["status"] == 202 and summary["cancelled"] == ["t1", "t2"]
    assert summary["webhook_id"] == headers["webhook-id"]
    assert owner_actions() == {"cancel_accepted"}


def test_a_gateway_holding_another_secret_refuses_the_request(local_server, source, step):
    gateway = Gateway(local_server, new_hook_secret(), Route(status=202))
    with pytest.raises(orphans.TaskStepError) as failed:
        orphans.run_task_step(step, step.revocation)
    assert gateway.received == [] and failed.value.summary["status"] == 401
    assert not failed.value.retryable


def test_a_2xx_without_a_cancelled_list_is_a_cancel_requested(local_server, source, step):
    Gateway(local_server, source[1], Route(status=200, body=b"", content_type=""))
    orphans.run_task_step(step, step.revocation)
    assert owner_actions() == {"cancel_requested"}


def test_a_5xx_is_retryable_and_the_retry_carries_the_same_webhook_id(local_server, source, step):
    gateway = Gateway(
        local_server,
        source[1],
        Route(status=503, body={"error": "draining"}),
        Route(status=202, body={"cancelled": ["t1"]}),
    )
    with pytest.raises(orphans.TaskStepError) as failed:
        orphans.run_task_step(step, step.revocation)
    assert failed.value.retryable and failed.value.summary["status"] == 503
    assert owner_actions() == {"cancel_failed"}

    orphans.run_task_step(step, step.revocation)
    first, second = (headers["webhook-id"] for headers, _ in gateway.received)
    assert first == second == orphans.webhook_id(step, step.revocation)
    assert "." not in first
    assert owner_actions() == {"cancel_accepted"}


def test_a_4xx_fails_for_good_with_the_gateways_answer(local_server, source, step):
    Gateway(local_server, source[1], Route(status=404, body={"error": "unknown session s1"}))
    with pytest.raises(orphans.TaskStepError) as failed:
        orphans.run_task_step(step, step.revocation)
    assert not failed.value.retryable
    assert "unknown session s1" in failed.value.summary["answer"]
    assert "HTTP 404" in failed.value.message
    assert owner_actions() == {"cancel_failed"}


def test_the_revocation_step_records_the_gateways_refusal(local_server, source, step):
    """Run by the revocation runner, the failed step keeps what the gateway answered."""
    Gateway(local_server, source[1], Route(status=404, body={"error": "unknown session s1"}))
    run = runner._Run(step.revocation, jobs.Progress(step.revocation))

    run.execute(step)

    step.refresh_from_db()
    assert (step.state, step.attempts) == ("failed", 1)  # a 4xx is not retried
    assert "HTTP 404" in step.error
    answer = step.response_summary
    assert answer["status"] == 404 and answer["source"] == "gw-hook"
    assert answer["webhook_id"] == orphans.webhook_id(step, step.revocation)
    assert "unknown session s1" in answer["answer"]


def test_a_redirect_is_not_followed_and_fails_for_good(local_server, source, step):
    Gateway(local_server, source[1], Route(status=302, headers={"Location": "http://10.0.0.1/"}))
    with pytest.raises(orphans.TaskStepError) as failed:
        orphans.run_task_step(step, step.revocation)
    assert not failed.value.retryable and failed.value.summary["status"] == 302


def test_no_answer_in_time_is_retryable(local_server, source, step, monkeypatch):
    monkeypatch.setattr(cancel_hook, "READ_TIMEOUT", 0.3)
    monkeypatch.setattr(cancel_hook, "TOTAL_TIMEOUT", 0.6)
    Gateway(local_server, source[1], Route(status=200, body=b"x" * 50, drip_delay=0.2))
    with pytest.raises(orphans.TaskStepError) as failed:
        orphans.run_task_step(step, step.revocation)
    assert failed.value.retryable and failed.value.summary["status"] is None


def test_a_source_whose_hook_was_removed_leaves_the_tasks_to_their_owners(source, step):
    clear_cancel_hook(source=source[0])
    with pytest.raises(orphans.TaskStepError) as failed:
        orphans.run_task_step(step, step.revocation)
    assert not failed.value.retryable and owner_actions() == {"cancel_failed"}


def test_the_secret_is_encrypted_at_rest_and_never_in_admin_action_records(source):
    src, secret = source
    assert secret.startswith("whsec_") and len(secret) > 40
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT cancel_hook_secret_encrypted FROM audit_eventsource WHERE id = %s", [src.pk]
        )
        (stored,) = cursor.fetchone()
    assert secret not in stored and "whsec_" not in stored
    assert decrypt(stored) == secret
    clear_cancel_hook(source=EventSource.objects.get(pk=src.pk))
    records = AdminAction.objects.filter(object_type="audit.eventsource", object_id=str(src.pk))
    assert {r.action for r in records} >= {
        "eventsource.cancel_hook_set",
        "eventsource.cancel_hook_removed",
    }
    text = json.dumps([[r.before, r.after] for r in records])
    assert secret not in text and stored not in text and secret[6:20] not in text
