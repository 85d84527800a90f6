"""Reminder emails before a campaign's due date (beat task `governance.reviews.send_reminders`).

A campaign reminds at each of its marks (`remind_days_before`, e.g. [7, 1]: seven days and one
day before it is due). Each mark is sent once: the tick claims it by moving `last_reminded_at`
with a conditional UPDATE (two beats, or a tick run twice, send it once), then emails every
reviewer who still has pending items; a failed send gives the claim back so the next tick
tries again. A tick that missed marks sends one reminder for the latest, not one per mark.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from governance.reviews.models import Campaign, ReviewItem

log = logging.getLogger(__name__)


def latest_mark(campaign: Campaign, now: datetime) -> datetime | None:
    """The latest reminder mark at or before `now`, while the campaign is not due yet."""
    if now >= campaign.due_at:
        return None
    passed = [
        campaign.due_at - timedelta(days=days)
        for days in campaign.remind_days_before
        if campaign.due_at - timedelta(days=days) <= now
    ]
    return max(passed, default=None)


def send_reminders(now: datetime | None = None) -> dict[int, int]:
    """Email the reviewers of every open campaign at a mark not sent yet: {campaign id: sent}."""
    now = now or timezone.now()
    sent: dict[int, int] = {}
    for campaign in Campaign.objects.filter(status=Campaign.Status.OPEN).exclude(
        remind_days_before=[]
    ):
        mark = latest_mark(campaign, now)
        if mark is None or (campaign.last_reminded_at and campaign.last_reminded_at >= mark):
            continue
        claimed = Campaign.objects.filter(
            pk=campaign.pk, status=Campaign.Status.OPEN, last_reminded_at=campaign.last_reminded_at
        ).update(last_reminded_at=now)
        if not claimed:
            continue  # another tick took this mark
        try:
            sent[campaign.pk] = _email_reviewers(campaign, now)
        except (OSError, smtplib.SMTPException):
            log.exception("reminders of review campaign %s were not sent", campaign.pk)
            Campaign.objects.filter(pk=campaign.pk, last_reminded_at=now).update(
                last_reminded_at=campaign.last_reminded_at
            )
    return sent


def _email_reviewers(campaign: Campaign, now: datetime) -> int:
    pending = (
        ReviewItem.objects.filter(campaign=campaign, decision=ReviewItem.Decision.PENDING)
        .exclude(reviewer__isnull=True)
        .exclude(reviewer__email="")
        .values("reviewer__email", "reviewer__username")
        .annotate(count=Count("id"))
        .order_by("reviewer__username")
    )
    link = f"{settings.CONSOLE_BASE_URL.rstrip('/')}{reverse('reviews:review_item_list')}"
    link += f"?campaign={campaign.pk}"
    days_left = max((campaign.due_at - now).days, 0)
    messages = [
        EmailMessage(
            subject=f"Access review due in {days_left} day{'s' if days_left != 1 else ''}: "
            f"{campaign.name}",
            body=_body(campaign, row["count"], link),
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[row["reviewer__email"]],
        )
        for row in pending
    ]
    if not messages:
        return 0
    with get_connection(fail_silently=False) as connection:
        return connection.send_messages(messages) or 0


def _body(campaign: Campaign, count: int, link: str) -> str:
    due = timezone.localtime(campaign.due_at).strftime("%Y-%m-%d %H:%M %Z")
    return (
        f"You have {count} access review item{'s' if count != 1 else ''} to decide in "
        f'the campaign "{campaign.name}", due {due}.\n\n'
        f"Decide them here: {link}\n\n"
        "For each grant: keep it, revoke it, or reduce its scopes. Keeping a grant the console "
        "recommends revoking needs a short justification.\n"
    )
