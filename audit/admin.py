"""Audit models in the Django admin: read-only. Events are append-only; sources change through
the console's source pages so every change is recorded as an admin action."""

from django.contrib import admin

from audit.models import AuditEvent, ChainVerification, EventBatch, EventSource
from governance.access.admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = [
        "time",
        "event_id",
        "type",
        "actor_subject",
        "server_name",
        "method",
        "tool",
        "outcome",
        "source",
    ]
    list_filter = ["outcome", "type"]
    show_full_result_count = False  # a COUNT(*) over millions of rows per page is not free


@admin.register(EventSource)
class EventSourceAdmin(ReadOnlyAdmin):
    list_display = ["name", "kind", "enabled", "token_prefix", "retention_days", "created_at"]
    exclude = ["token_hash"]


@admin.register(EventBatch)
class EventBatchAdmin(ReadOnlyAdmin):
    list_display = ["seq", "id", "source", "received_at", "event_count", "digest"]


@admin.register(ChainVerification)
class ChainVerificationAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "ok", "batches_checked", "events_checked", "problem"]
