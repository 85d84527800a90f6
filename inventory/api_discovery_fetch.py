"""Read-only API for the fetch log, CIMD document versions and authorization servers (Viewer)."""

from rest_framework import serializers, viewsets

from governance.roles import IsViewer
from inventory import queries
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


class FetchRecordViewSet(viewsets.ReadOnlyModelViewSet):
    """Outbound fetches, newest first; ?purpose=, ?ok=true|false, ?reason= filter."""

    serializer_class = FetchRecordSerializer
    permission_classes = [IsViewer]

    def get_queryset(self):
        rows = FetchRecord.objects.order_by("-at", "-id")
        params = self.request.query_params
        if params.get("purpose"):
            rows = rows.filter(purpose=params["purpose"])
        if params.get("ok") in ("true", "false"):
            rows = rows.filter(ok=params["ok"] == "true")
        if params.get("reason"):
            rows = rows.filter(error_reason=params["reason"])
        return rows


class ClientDocumentViewSet(viewsets.ReadOnlyModelViewSet):
    """CIMD document versions; ?client=<id> for one client's history."""

    serializer_class = ClientDocumentSerializer
    permission_classes = [IsViewer]

    def get_queryset(self):
        rows = ClientDocument.objects.select_related("client").order_by("-first_fetched_at", "-id")
        client = self.request.query_params.get("client", "")
        return rows.filter(client_id=int(client)) if client.isascii() and client.isdigit() else rows


class AuthorizationServerViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AuthorizationServerSerializer
    permission_classes = [IsViewer]
    queryset = queries.authorization_servers()


def register(router) -> None:
    router.register("fetch-records", FetchRecordViewSet, basename="fetch-record")
    router.register("client-documents", ClientDocumentViewSet, basename="client-document")
    router.register("authorization-servers", AuthorizationServerViewSet,
                    basename="authorization-server")
