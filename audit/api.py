"""Audit REST API (registered on the one router in governance/urls.py).

- /api/v1/audit-events/: the explorer's filters and keyset cursor (payload for Auditors+);
- /api/v1/event-sources/: sources for Admins (tokens are never returned here).
Ingestion itself is POST /api/v1/events (audit/views_ingest.py), authenticated by source token.
"""

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_serializer,
    extend_schema_view,
)
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from audit import queries_explorer
from audit.models import AuditEvent, EventSource
from governance.access.lists.filters import id_or_none
from governance.access.lists.pagination import MAX_LIMIT, page_params
from governance.access.lists.schema import DeclaredQueryParamsMixin
from governance.access.roles import AUDITOR, IsAdmin, IsViewer, has_role

DETAIL_COLUMNS = queries_explorer.LIST_COLUMNS + ["received_at", "batch_id", "session_id"]


class AuditEventSerializer(serializers.Serializer):
    """The schema of one row (documentation only: rows are built by audit.queries_explorer)."""

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


class AuditEventDetailSerializer(AuditEventSerializer):
    """One event: the list's columns, when and in which batch it arrived, and its payload."""

    received_at = serializers.DateTimeField()
    batch_id = serializers.IntegerField()
    session_id = serializers.CharField()
    payload = serializers.JSONField(required=False, help_text="Auditors and Admins only.")


# One page object, not a list of them: without many=False drf-spectacular wraps a list action's
# response in an array (the schema said [{results, next}] while the API answers {results, next}).
@extend_schema_serializer(many=False)
class AuditEventPageSerializer(serializers.Serializer):
    results = AuditEventSerializer(many=True)
    next = serializers.CharField(
        allow_null=True, help_text="The `cursor` of the following page; null on the last."
    )


def _text(name: str, description: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.STR, description=description)


def _event_list_params() -> tuple[OpenApiParameter, ...]:
    """The explorer's filters, the keyset cursor and the page size: declared and enforced."""
    return (
        OpenApiParameter("since", OpenApiTypes.DATETIME, description="Events at or after."),
        OpenApiParameter("until", OpenApiTypes.DATETIME, description="Events before."),
        OpenApiParameter(
            "range",
            OpenApiTypes.STR,
            enum=list(queries_explorer.QUICK_RANGES),
            description="Events of the last hour, day, week or month (`since` wins over it).",
        ),
        OpenApiParameter("source", OpenApiTypes.INT, description="Events of this source id."),
        *(
            _text(name, f"Events whose {column.replace('_', ' ')} equals this.")
            for name, column in queries_explorer.FILTERS.items()
            if name not in ("source", *queries_explorer.NAMED)
        ),
        _text("identity", "Events of this identity: its subject, e-mail or display name."),
        _text("client", "Events of this client: its client_id or name."),
        _text("server", "Events on this server: its registry name or title."),
        _text("q", "Case-insensitive search in the payload."),
        _text("cursor", "The `next` of the previous page."),
        OpenApiParameter(
            "limit",
            OpenApiTypes.INT,
            description=f"Events per page (default 50, "
            f"at most {MAX_LIMIT}; larger values are capped).",
        ),
    )


# A plain ViewSet (keyset pages, no queryset): the schema is declared, not guessed.
@extend_schema_view(
    list=extend_schema(responses=AuditEventPageSerializer),
    retrieve=extend_schema(
        responses=AuditEventDetailSerializer,
        parameters=[OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH)],
    ),
)
class AuditEventViewSet(DeclaredQueryParamsMixin, viewsets.ViewSet):
    """Audit events, newest first: ?since&until&range&source&issuer&identity&client&server&method&
    tool&outcome&task&type&session&q&cursor&limit (max 500); identity, client and server take
    names (resolved through the inventory) as well as the keys events carry. `next` is the
    cursor of the following page. Any other parameter is a 400 naming it."""

    permission_classes = [IsViewer]
    list_params = _event_list_params()

    def list(self, request):
        params = request.query_params
        limit, _ = page_params({"limit": params.get("limit")}, default=50)
        try:
            event_filter = queries_explorer.EventFilter.from_params(params)
            rows, cursor = queries_explorer.events_page(
                event_filter, cursor=params.get("cursor"), size=limit
            )
        except queries_explorer.FilterError as exc:
            raise ValidationError({"detail": str(exc)}) from None
        return Response({"results": rows, "next": cursor})

    def retrieve(self, request, pk=None):
        pk = id_or_none(str(pk))  # "²", "-5" or 5000 digits name no event: 404, as elsewhere
        if pk is None:
            raise Http404
        fields = DETAIL_COLUMNS + (["payload"] if has_role(request.user, AUDITOR) else [])
        row = AuditEvent.objects.filter(pk=pk).values(*fields).first()
        if row is None:
            raise Http404
        return Response(row)


class EventSourceSerializer(serializers.ModelSerializer):
    class Meta:
        model = EventSource
        fields = [
            "id",
            "name",
            "kind",
            "enabled",
            "token_prefix",
            "retention_days",
            "rate_limit_per_minute",
            "created_at",
            "token_rotated_at",
            "disabled_at",
        ]


class EventSourceViewSet(DeclaredQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    """Registered event sources (Admins). Create/rotate/disable in the console or CLI."""

    permission_classes = [IsAdmin]
    serializer_class = EventSourceSerializer
    queryset = EventSource.objects.all()


def register(router) -> None:
    """Add this app's viewsets to the project router."""
    router.register("audit-events", AuditEventViewSet, basename="audit_event")
    router.register("event-sources", EventSourceViewSet, basename="event_source")
