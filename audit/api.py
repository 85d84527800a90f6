"""Audit REST API (registered on the one router in governance/urls.py).

- /api/v1/audit-events/: the explorer's filters and keyset cursor (payload for Auditors+);
- /api/v1/event-sources/: sources for Admins (tokens are never returned here).
Ingestion itself is POST /api/v1/events (audit/ingest_views.py), authenticated by source token.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from audit import explorer
from audit.models import AuditEvent, EventSource
from governance.roles import AUDITOR, IsAdmin, IsViewer, has_role


class AuditEventSerializer(serializers.Serializer):
    """The schema of one row (documentation only: rows are built by audit.explorer)."""

    id = serializers.IntegerField()
    time = serializers.DateTimeField()
    source_id = serializers.IntegerField()
    event_id = serializers.CharField()
    type = serializers.CharField()
    actor_issuer = serializers.CharField()
    actor_subject = serializers.CharField()
    client_ref = serializers.CharField()
    server_name = serializers.CharField()
    method = serializers.CharField()
    tool = serializers.CharField()
    task_id = serializers.CharField()
    outcome = serializers.CharField()
    duration_ms = serializers.FloatField(allow_null=True)
    redacted = serializers.BooleanField()
    payload = serializers.JSONField(required=False, help_text="Auditors and Admins only.")


class AuditEventPageSerializer(serializers.Serializer):
    results = AuditEventSerializer(many=True)
    next = serializers.CharField(allow_null=True)


# A plain ViewSet (keyset pages, no queryset): the schema is declared, not guessed.
@extend_schema_view(
    list=extend_schema(responses=AuditEventPageSerializer),
    retrieve=extend_schema(responses=AuditEventSerializer, parameters=[
        OpenApiParameter("id", int, OpenApiParameter.PATH)]),
)
class AuditEventViewSet(viewsets.ViewSet):
    """Audit events, newest first: ?since&until&source&identity&client&server&method&tool&
    outcome&task&q&cursor&limit (max 500). `next` is the cursor of the following page."""

    permission_classes = [IsViewer]

    def list(self, request):
        try:
            event_filter = explorer.EventFilter.from_params(request.query_params)
            limit = min(max(int(request.query_params.get("limit", 50)), 1), 500)
            rows, cursor = explorer.events_page(event_filter, cursor=request.query_params.get("cursor"),
                                                size=limit)
        except explorer.FilterError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        except ValueError:
            raise ValidationError({"limit": "must be an integer"}) from None
        return Response({"results": rows, "next": cursor})

    def retrieve(self, request, pk=None):
        if not str(pk).isdigit():
            raise ValidationError({"id": "must be an integer"})
        fields = explorer.LIST_COLUMNS + ["received_at", "batch_id", "session_id"]
        if has_role(request.user, AUDITOR):
            fields.append("payload")
        row = AuditEvent.objects.filter(pk=int(pk)).values(*fields).first()
        if row is None:
            from django.http import Http404

            raise Http404
        return Response(row)


class EventSourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = EventSource
        fields = ["id", "name", "kind", "enabled", "token_prefix", "retention_days",
                  "rate_limit_per_minute", "created_at", "token_rotated_at", "disabled_at"]


class EventSourceViewSet(viewsets.ReadOnlyModelViewSet):
    """Registered event sources (Admins). Create/rotate/disable in the console or CLI."""

    permission_classes = [IsAdmin]
    serializer_class = EventSourceSerializer
    queryset = EventSource.objects.all()


def register(router) -> None:
    """Add this app's viewsets to the project router."""
    router.register("audit-events", AuditEventViewSet, basename="audit-event")
    router.register("event-sources", EventSourceViewSet, basename="event-source")
