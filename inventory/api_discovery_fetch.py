"""Read-only API for the fetch log, CIMD document versions and authorization servers (Viewer)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers, viewsets

from governance.api_schema import DeclaredQueryParamsMixin
from governance.roles import IsViewer
from inventory import queries
from inventory.api import bad_filter_is_400
from inventory.models import AuthorizationServer, ClientDocument, FetchRecord


class FetchRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = FetchRecord
        fields = ["id", "at", "purpose", "method", "url", "final_url", "address", "status_code",
                  "bytes", "elapsed_ms", "ok", "error_reason", "error_message"]


class ClientDocumentSerializer(serializers.ModelSerializer):
    client_id = serializers.CharField(source="client.client_id", read_only=True)

    class Meta:
        model = ClientDocument
        fields = ["id", "client", "client_id", "sha256", "first_fetched_at", "last_fetched_at",
                  "is_valid", "problems", "content"]


class AuthorizationServerSerializer(serializers.ModelSerializer):
    servers = serializers.ListField(child=serializers.CharField(), source="guarded_names",
                                    read_only=True)

    class Meta:
        model = AuthorizationServer
        fields = ["id", "issuer", "metadata_url", "authorization_endpoint", "token_endpoint",
                  "registration_endpoint", "revocation_endpoint", "introspection_endpoint",
                  "jwks_uri", "scopes_supported", "code_challenge_methods", "supports_pkce_s256",
                  "cimd_supported", "open_registration", "grant_types_supported", "problems",
                  "fetch_ok", "servers", "first_seen", "last_seen", "last_fetched_at"]


class FetchRecordViewSet(DeclaredQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    """Outbound fetches, newest first; ?purpose=, ?ok=true|false, ?reason= filter."""

    serializer_class = FetchRecordSerializer
    permission_classes = [IsViewer]
    list_params = (
        OpenApiParameter("purpose", OpenApiTypes.STR, description="Only fetches for this purpose."),
        OpenApiParameter("ok", OpenApiTypes.BOOL, description="Only (un)successful fetches."),
        OpenApiParameter("reason", OpenApiTypes.STR,
                         description="Only fetches that failed for this reason."),
    )

    def get_queryset(self):
        rows = FetchRecord.objects.order_by("-at", "-id")
        params = self.request.query_params
        if params.get("purpose"):
            rows = rows.filter(purpose=params["purpose"])
        if params.get("ok"):
            # "ok=maybe" used to be ignored: every fetch, as if no filter had been asked for.
            with bad_filter_is_400():
                rows = rows.filter(ok=queries.parse_bool("ok", params["ok"]))
        if params.get("reason"):
            rows = rows.filter(error_reason=params["reason"])
        return rows


class ClientDocumentViewSet(DeclaredQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    """CIMD document versions; ?client=<id> for one client's history."""

    serializer_class = ClientDocumentSerializer
    permission_classes = [IsViewer]
    list_params = (OpenApiParameter("client", OpenApiTypes.INT,
                                    description="Only this client's document versions."),)

    def get_queryset(self):
        rows = ClientDocument.objects.select_related("client").order_by("-first_fetched_at", "-id")
        client = self.request.query_params.get("client", "").strip()
        if not client:
            return rows
        # "client=abc" used to be ignored: every client's documents, as if unfiltered.
        with bad_filter_is_400():
            return rows.filter(client_id=queries.parse_id("client", client))


class AuthorizationServerViewSet(DeclaredQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = AuthorizationServerSerializer
    permission_classes = [IsViewer]
    queryset = queries.authorization_servers()


def register(router) -> None:
    router.register("fetch-records", FetchRecordViewSet, basename="fetch-record")
    router.register("client-documents", ClientDocumentViewSet, basename="client-document")
    router.register("authorization-servers", AuthorizationServerViewSet,
                    basename="authorization-server")
