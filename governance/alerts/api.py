"""REST API for alert destinations (registered on the one router in governance/urls.py).

Auditors and Admins read; Admins create, change and delete, and `POST
/alert-destinations/{id}/send-test/` sends a test message now (200 with the outcome, delivered
or not). The secret is write-only: answers say only whether one is set.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import extend_schema, extend_schema_view
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
from governance.alerts.models import Destination


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


def register(router) -> None:
    router.register("alert-destinations", DestinationViewSet, basename="alert_destination")
