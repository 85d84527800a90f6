"""REST API for IdP connections and their syncs (registered on the one router in
governance/urls.py).

Connections are read-only here and carry no credential field at all (not even masked): an Admin
adds and changes them in the console or with `manage.py add_idp`. Syncs are read by Viewers;
`POST /idp-connections/{id}/sync/` (Admin, body `{"full": bool}`) starts one.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.reverse import reverse

from governance.access.lists.schema import (
    DeclaredQueryParamsMixin,
    bad_filter_is_400,
    spec_parameters,
)
from governance.access.roles import IsAdmin, IsViewer
from governance.idp import queries
from governance.idp.models import IdpConnection, IdpSync
from governance.idp.sync import ConnectionDisabled, start_sync


class IdpConnectionSerializer(serializers.ModelSerializer):
    issuers = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="issuer", help_text="Issuers it answers for."
    )
    credential_set = serializers.SerializerMethodField(
        help_text="Whether a credential is stored (it is never returned)."
    )

    class Meta:
        model = IdpConnection
        fields = [
            "id",
            "name",
            "kind",
            "config",
            "issuers",
            "enabled",
            "sync_interval_minutes",
            "is_demo",
            "credential_set",
            "secret_set_at",
            "last_test_at",
            "last_test_result",
            "created_at",
            "updated_at",
        ]

    def get_credential_set(self, connection) -> bool:
        return bool(connection.secret_encrypted)


class IdpSyncSerializer(serializers.ModelSerializer):
    connection_name = serializers.CharField(source="connection.name", read_only=True)

    class Meta:
        model = IdpSync
        fields = [
            "id",
            "connection",
            "connection_name",
            "full",
            "status",
            "seen",
            "created",
            "changed",
            "vanished",
            "skipped",
            "pages",
            "errors",
            "error_log",
            "summary",
            "requested_by",
            "attempts",
            "queued_at",
            "started_at",
            "finished_at",
            "heartbeat_at",
        ]


class StartSyncSerializer(serializers.Serializer):
    full = serializers.BooleanField(default=False, help_text="Ignore incremental state.")


@extend_schema_view(
    list=extend_schema(summary="List IdP connections"),
    retrieve=extend_schema(summary="One IdP connection"),
)
class IdpConnectionViewSet(DeclaredQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    """Identity-provider connections (no credential in any answer). `sync` needs Admin."""

    serializer_class = IdpConnectionSerializer
    queryset = IdpConnection.objects.prefetch_related("issuers").order_by("name")
    list_params = tuple(spec_parameters(queries.CONNECTION_SPEC))

    def get_permissions(self):
        return [IsAdmin()] if self.action == "sync" else [IsViewer()]

    def get_queryset(self):
        if self.action != "list":
            return self.queryset.all()
        with bad_filter_is_400():
            return queries.connection_rows(self.request.query_params)

    def get_extra_action_url_map(self):
        """The browsable API's "Extra Actions" menu, under the router's `_` route names."""
        actions = [a for a in self.get_extra_actions() if a.detail == self.detail]
        return {
            self.__class__(**a.kwargs).get_view_name(): reverse(
                f"api:{self.basename}_{a.url_name}", kwargs=self.kwargs, request=self.request
            )
            for a in actions
        }

    @extend_schema(request=StartSyncSerializer, responses={202: IdpSyncSerializer})
    @action(detail=True, methods=["post"])
    def sync(self, request, pk=None):
        """Start a sync now (or get the open one); 202 with the sync."""
        options = StartSyncSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        try:
            sync = start_sync(
                connection=self.get_object(),
                full=options.validated_data["full"],
                actor=request.user,
                request=request,
            )
        except ConnectionDisabled as exc:
            raise ValidationError({"connection": [str(exc)]}) from exc
        return Response(IdpSyncSerializer(sync).data, status=status.HTTP_202_ACCEPTED)


@extend_schema_view(
    list=extend_schema(summary="List IdP syncs"),
    retrieve=extend_schema(summary="One IdP sync"),
)
class IdpSyncViewSet(DeclaredQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    """IdP syncs, newest first: status, counts, timings and errors."""

    serializer_class = IdpSyncSerializer
    permission_classes = [IsViewer]
    queryset = IdpSync.objects.select_related("connection")
    list_params = tuple(spec_parameters(queries.SYNC_SPEC))

    def get_queryset(self):
        if self.action != "list":
            return self.queryset.all()
        with bad_filter_is_400():
            return queries.sync_rows(self.request.query_params)


def register(router) -> None:
    router.register("idp-connections", IdpConnectionViewSet, basename="idp_connection")
    router.register("idp-syncs", IdpSyncViewSet, basename="idp_sync")
