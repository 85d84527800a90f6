"""Reminder emails go through a real SMTP server the test starts (aiosmtpd on 127.0.0.1): one
per reviewer with pending items, at each of the campaign's marks, once per mark."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from governance.reviews import services
from governance.reviews.models import Campaign
from tests.governance.reviews.conftest import open_named
from tests.receivers.fixtures import _smtp_server, smtp_receiver  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


@pytest.fixture
def inbox(smtp_receiver, settings):  # noqa: F811 - the fixture imported above
    """The shared SMTP receiver (tests/receivers), with the console's address for links."""
    settings.CONSOLE_BASE_URL = "https://console.acme.example"
    return smtp_receiver


def mails(inbox) -> list:
    """(recipients, message) of each email received, in order."""
    return [(mail.rcpt_tos, mail.message) for mail in inbox.received]


def test_reviewers_with_pending_items_are_reminded_once_at_each_mark(estate, admin_user, inbox):
    now = timezone.now()
    campaign = open_named(
        admin_user,
        [estate.owner, estate.other],
        due_at=now + timedelta(days=10),
        remind_days_before=[7, 1],
    )
    # Nico decides all of his: he is not reminded.
    for item in campaign.items.filter(reviewer=estate.other):
        services.decide(item=item, by=estate.other, decision="revoke")

    assert services.send_reminders(now) == {}  # before the first mark (due in 10 days)
    at_seven = now + timedelta(days=3, hours=1)
    assert services.send_reminders(at_seven) == {campaign.pk: 1}
    assert services.send_reminders(at_seven + timedelta(hours=1)) == {}  # that mark is sent
    at_one = now + timedelta(days=9, hours=1)
    assert services.send_reminders(at_one) == {campaign.pk: 1}
    assert services.send_reminders(now + timedelta(days=11)) == {}  # past due: no more

    assert len(mails(inbox)) == 2
    recipients, message = mails(inbox)[0]
    assert recipients == ["Olga@acme.example"]
    assert message["Subject"] == "Access review due in 6 days: Q4 review"
    body = message.get_payload(decode=True).decode()
    assert "You have 2 access review items to decide" in body
    assert f"https://console.acme.example/governance/reviews/mine/?campaign={campaign.pk}" in body
    assert mails(inbox)[1][1]["Subject"].startswith("Access review due in 0 days")


def test_a_failed_send_leaves_the_mark_to_the_next_tick(estate, admin_user, inbox, settings):
    now = timezone.now()
    campaign = open_named(
        admin_user, [estate.owner], due_at=now + timedelta(days=2), remind_days_before=[7]
    )
    port, settings.EMAIL_PORT = settings.EMAIL_PORT, 1  # nothing listens there: refused

    assert services.send_reminders(now) == {}
    assert Campaign.objects.get(pk=campaign.pk).last_reminded_at is None

    settings.EMAIL_PORT = port
    assert services.send_reminders(now + timedelta(minutes=5)) == {campaign.pk: 1}
    assert [to for to, _ in mails(inbox)] == [["Olga@acme.example"]]
