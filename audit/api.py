"""Audit REST API (registered on the one router in governance/urls.py).

- /api/v1/audit-events/: the explorer's filters and keyset cursor (payload for Auditors+);
- /api/v1/event-sources/: sources for Admins (tokens are never returned here); POST
  /api/v1/event-sources/{id}/cancel-hook/ sets the cancel hook and returns its signing secret
  (once), DELETE removes it.
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
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from audit import queries_explorer
from audit.models import AuditEvent, EventSource
from audit.services import sources as source_services
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
    cancel_hook_signed = serializers.SerializerMethodField(
        help_text="The cancel hook has a signing secret (never returned after it is set)."
    )

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
            "cancel_hook_url",
            "cancel_hook_signed",
        ]

    def get_cancel_hook_signed(self, source) -> bool:
        return bool(source.cancel_hook_secret_encrypted)


class CancelHookInputSerializer(serializers.Serializer):
    url = serializers.CharField(
        max_length=1000, help_text="https URL where the gateway accepts tasks.cancel requests."
    )


class CancelHookSecretSerializer(serializers.Serializer):
    cancel_hook_url = serializers.CharField()
    secret = serializers.CharField(help_text="whsec_ + base64: shown this once, never again.")


class EventSourceViewSet(DeclaredQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    """Registered event sources (Admins). Create/rotate/disable in the console or CLI."""

    permission_classes = [IsAdmin]
    serializer_class = EventSourceSerializer
    queryset = EventSource.objects.all()

    @extend_schema(
        methods=["POST"],
        summary="Set the cancel hook (a new signing secret, returned once)",
        request=CancelHookInputSerializer,
        responses={200: CancelHookSecretSerializer},
    )
    @extend_schema(methods=["DELETE"], summary="Remove the cancel hook", responses={204: None})
    @action(detail=True, methods=["post", "delete"], url_path="cancel-hook", url_name="cancel_hook")
    def cancel_hook(self, request, pk=None):
        """Set (POST {"url"}) or remove (DELETE) the source's cancel hook; recorded."""
        source = self.get_object()
        if request.method == "DELETE":
            source_services.clear_cancel_hook(source=source, actor=request.user, request=request)
            return Response(status=status.HTTP_204_NO_CONTENT)
        given = CancelHookInputSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        try:
            secret = source_services.set_cancel_hook(
                source=source, url=given.validated_data["url"], actor=request.user, request=request
            )
        except source_services.CancelHookError as exc:
            raise ValidationError({exc.field: [exc.message]}) from exc
        response = Response({"cancel_hook_url": source.cancel_hook_url, "secret": secret})
        response["Cache-Control"] = "no-store"
        return response


def register(router) -> None:
    """Add this app's viewsets to the project router."""
    router.register("audit-events", AuditEventViewSet, basename="audit_event")
    router.register("event-sources", EventSourceViewSet, basename="event_source")
