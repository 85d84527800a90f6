"""REST API for alert destinations (registered on the one router in governance/urls.py).

Auditors and Admins read; Admins create, change and delete, and `POST
/alert-destinations/{id}/send-test/` sends a test message now (200 with the outcome, delivered
or not). The secret is write-only: answers say only whether one is set.

Dead letters (`/alert-dead-letters/`, `?destination=<id>`) are read by Auditors; `POST
/alert-dead-letters/replay/ {"ids": [...]}` (Admin) queues them again under their idempotency
keys, as the page's Replay does.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from governance.access.lists.schema import (
    DeclaredQueryParamsMixin,
    bad_filter_is_400,
    spec_parameters,
)
from governance.access.roles import IsAdmin, IsAuditor
from governance.alerts import queries, services
from governance.alerts.models import Delivery, Destination
from governance.alerts.sending import dead_letters, replay


class DestinationSerializer(serializers.ModelSerializer):
    secret = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=True,
        help_text="Webhook signing secret (whsec_...) or HEC token; never returned. "
        "On update, omit it (or send it empty) to keep the stored one.",
    )
    secret_set = serializers.SerializerMethodField(help_text="Whether a secret is stored.")
    kinds = serializers.ListField(child=serializers.CharField(max_length=100), required=False)

    class Meta:
        model = Destination
        fields = [
            "id",
            "name",
            "kind",
            *[f for f in services.EDITABLE if f not in ("name", "kinds")],
            "kinds",
            "secret",
            "secret_set",
            "created_at",
            "updated_at",
            "last_test_at",
            "last_test_ok",
            "last_test_detail",
        ]
        read_only_fields = [
            "created_at",
            "updated_at",
            "last_test_at",
            "last_test_ok",
            "last_test_detail",
        ]
        # Uniqueness and the rest are checked by the service, which names the field.
        extra_kwargs = {"name": {"validators": []}, "url": {"validators": []}}

    def get_secret_set(self, destination) -> bool:
        return bool(destination.secret_encrypted)


class SendTestResultSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    detail = serializers.CharField()
    at = serializers.DateTimeField()
    retryable = serializers.BooleanField()


def _service_errors(exc: DjangoValidationError) -> ValidationError:
    return ValidationError(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)


@extend_schema_view(
    list=extend_schema(summary="List alert destinations"),
    retrieve=extend_schema(summary="One alert destination"),
    create=extend_schema(summary="Add an alert destination"),
    partial_update=extend_schema(summary="Change an alert destination"),
    update=extend_schema(summary="Replace an alert destination's settings"),
    destroy=extend_schema(summary="Delete an alert destination"),
)
class DestinationViewSet(DeclaredQueryParamsMixin, viewsets.ModelViewSet):
    """Where findings and audit events are sent. Writes and `send-test` need Admin."""

    serializer_class = DestinationSerializer
    queryset = Destination.objects.order_by("name")
    list_params = tuple(spec_parameters(queries.DESTINATION_SPEC))

    def get_permissions(self):
        return [IsAuditor()] if self.action in ("list", "retrieve") else [IsAdmin()]

    def get_queryset(self):
        if self.action != "list":
            return self.queryset.all()
        with bad_filter_is_400():
            return queries.destination_rows(self.request.query_params)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        secret = data.pop("secret", "")
        kind = data.pop("kind", "")
        try:
            serializer.instance = services.create_destination(
                actor=self.request.user,
                kind=kind,
                values=data,
                secret=secret,
                request=self.request,
            )
        except DjangoValidationError as exc:
            raise _service_errors(exc) from None

    def perform_update(self, serializer):
        data = dict(serializer.validated_data)
        secret = data.pop("secret", "")
        try:
            serializer.instance = services.update_destination(
                actor=self.request.user,
                destination=serializer.instance,
                values=data,
                secret=secret,
                request=self.request,
            )
        except DjangoValidationError as exc:
            raise _service_errors(exc) from None

    def perform_destroy(self, instance):
        services.delete_destination(
            actor=self.request.user, destination=instance, request=self.request
        )

    @extend_schema(request=None, responses={200: SendTestResultSerializer})
    @action(detail=True, methods=["post"], url_path="send-test", url_name="send_test")
    def send_test(self, request, pk=None):
        """Send a test message now; 200 with whether it was delivered and why not."""
        result = services.send_test(self.get_object(), request.user, request=request)
        return Response(SendTestResultSerializer(result).data, status=status.HTTP_200_OK)


class DeadLetterSerializer(serializers.ModelSerializer):
    destination_name = serializers.CharField(source="destination.name", read_only=True)

    class Meta:
        model = Delivery
        fields = (
            "id",
            "destination",
            "destination_name",
            "purpose",
            "idempotency_key",
            "finding_ids",
            "attempts",
            "dead_at",
            "last_error",
        )
        read_only_fields = fields


class ReplaySerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        min_length=1,
        max_length=1000,
        help_text="The dead letters to queue again (others are left alone).",
    )


class ReplayResultSerializer(serializers.Serializer):
    replayed = serializers.IntegerField()


@extend_schema_view(list=extend_schema(summary="List dead letters, newest first"))
class DeadLetterViewSet(viewsets.GenericViewSet):
    """Deliveries that ran out of attempts (or failed for good). Replaying needs Admin."""

    serializer_class = DeadLetterSerializer
    queryset = Delivery.objects.none()

    def get_permissions(self):
        return [IsAuditor()] if self.action == "list" else [IsAdmin()]

    @extend_schema(
        parameters=[OpenApiParameter("destination", int, description="Only this destination's.")]
    )
    def list(self, request):
        raw = request.query_params.get("destination", "")
        unknown = set(request.query_params) - {"destination", "limit", "offset"}
        if unknown:
            raise ValidationError({sorted(unknown)[0]: "unknown parameter"})
        if raw and not raw.isdigit():
            raise ValidationError({"destination": "must be a destination id"})
        rows = dead_letters(int(raw) if raw else None)
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(request=ReplaySerializer, responses=ReplayResultSerializer)
    @action(detail=False, methods=["post"])
    def replay(self, request):
        """Queue dead letters again, now, under their idempotency keys (each one recorded)."""
        body = ReplaySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        count = replay(body.validated_data["ids"], request.user, request=request)
        return Response({"replayed": count}, status=status.HTTP_200_OK)


def register(router) -> None:
    router.register("alert-destinations", DestinationViewSet, basename="alert_destination")
    router.register("alert-dead-letters", DeadLetterViewSet, basename="dead_letter")
