"""Error spikes (issue 14 §2): a client or a server whose errors and denials in the last full
hour exceed its own hourly baseline times the factor, and the minimum, gets one finding; an hour
back under the threshold resolves it. The events go through POST /api/v1/events, so the hourly
rollups the rule reads are the ones ingestion maintains."""

from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest

from audit.models import ClientRollupHourly
from audit.services import partitions
from audit.services.sources import create_source
from governance.findings.spikes import raise_error_spikes
from inventory.models import Client, Finding, FindingChange, Server
from tests.ingest_helpers import iso, make_event

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime.now(UTC).replace(minute=20, second=0, microsecond=0)
if NOW > datetime.now(UTC):  # keep the events in the past
    NOW -= timedelta(hours=1)
LAST_HOUR = NOW.replace(minute=0) - timedelta(hours=1)
KIND = "activity.error_spike"


def post(live_server, token, events):
    for start in range(0, len(events), 5000):
        response = httpx.post(
            f"{live_server.url}/api/v1/events",
            content=orjson.dumps(events[start : start + 5000]),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == len(events[start : start + 5000])


def calls(n, *, at, outcome="error", server="io.github.acme/reports", client="agent-1"):
    """`n` calls within the first ten minutes of the hour starting at `at` (in the past)."""
    return [
        make_event(
            time=iso(at + timedelta(seconds=10 + i * 590 // max(n, 1))),
            outcome=outcome,
            server={"name": server, "url": "https://mcp.acme.example/mcp"},
            client={"id": client, "name": client},
        )
        for i in range(n)
    ]


@pytest.fixture
def token(db):
    return create_source(name="gw-spikes")[1]


def spikes():
    return list(Finding.objects.filter(kind=KIND).order_by("object_type", "object_id"))


def test_a_server_failing_in_the_last_hour_raises_a_spike_and_its_quiet_clients_do_not(
    live_server, token
):
    # 25 errors from five clients (5 each: under the minimum of 20 for a client).
    events = [e for i in range(5) for e in calls(5, at=LAST_HOUR, client=f"agent-{i}")]
    post(live_server, token, events + calls(40, at=LAST_HOUR, outcome="success"))
    assert raise_error_spikes(NOW) == {"raised": 1, "resolved": 0}
    (spike,) = spikes()
    server = Server.objects.get(name="io.github.acme/reports")
    assert (spike.object_type, spike.object_id, spike.severity) == (
        "inventory.server",
        str(server.pk),
        "warning",
    )
    assert spike.details["errors"] == 25 and spike.details["events"] == 65
    assert spike.details["baseline"] == 0
    assert "25 errors and denials" in spike.summary
    # The schedule runs again within the hour: nothing new to say.
    assert raise_error_spikes(NOW + timedelta(minutes=5)) == {"raised": 0, "resolved": 0}
    assert Finding.objects.get(pk=spike.pk).times_raised == 1


def test_a_client_denied_far_more_than_usual_raises_a_spike_on_the_client(live_server, token):
    post(
        live_server,
        token,
        calls(30, at=LAST_HOUR, outcome="denied", client="probe", server="s1")
        + calls(2, at=LAST_HOUR, outcome="denied", client="probe", server="s2"),
    )
    assert ClientRollupHourly.objects.get(client_ref="probe", hour=LAST_HOUR).events == 32
    raise_error_spikes(NOW)
    by_type = {s.object_type: s for s in spikes()}
    assert by_type["inventory.client"].object_id == str(Client.objects.get(client_id="probe").pk)
    assert by_type["inventory.client"].details["errors"] == 32
    assert by_type["inventory.server"].object_repr == "s1"  # 30 at s1; s2's 2 are no spike


def test_errors_within_the_usual_rate_times_the_factor_are_no_spike(live_server, token):
    # A noisy server: 10 errors an hour for the seven days before the last hour (baseline 10).
    baseline = []
    for hours_back in range(1, 7 * 24 + 1):
        at = LAST_HOUR - timedelta(hours=hours_back)
        baseline += calls(10, at=at, server="noisy", client=f"c{hours_back % 20}")
    partitions.ensure_for_times(datetime.fromisoformat(e["time"]) for e in baseline)
    post(live_server, token, baseline)
    post(live_server, token, calls(29, at=LAST_HOUR, server="noisy", client="c-now"))
    raise_error_spikes(NOW)
    assert not [s for s in spikes() if s.object_repr == "noisy"]  # 29 <= 3 x 10
    post(live_server, token, calls(2, at=LAST_HOUR, server="noisy", client="c-now2"))
    raise_error_spikes(NOW)
    (spike,) = [s for s in spikes() if s.object_repr == "noisy"]
    assert spike.details["errors"] == 31 and spike.details["baseline"] == 10


def test_an_hour_back_under_the_threshold_resolves_the_spike(live_server, token):
    post(live_server, token, [e for i in range(5) for e in calls(5, at=LAST_HOUR, client=f"a{i}")])
    raise_error_spikes(NOW)
    (spike,) = spikes()
    # An hour later the last full hour saw 3 errors: back under the minimum.
    post(live_server, token, calls(3, at=LAST_HOUR + timedelta(hours=1)))
    assert raise_error_spikes(NOW + timedelta(hours=1)) == {"raised": 0, "resolved": 1}
    spike.refresh_from_db()
    assert spike.status == "resolved" and spike.resolution == "cleared"
    assert spike.resolved_by == "rule"
    change = FindingChange.objects.get(finding=spike, action="cleared")
    assert change.actor == "rule" and "back under" in change.note
    opened = FindingChange.objects.get(finding=spike, action="opened")
    assert opened.note == ""
