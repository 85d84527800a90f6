"""Read-only API for the fetch log, CIMD document versions and authorization servers (Viewer)."""

from rest_framework import serializers, viewsets

from governance.api_schema import DeclaredQueryParamsMixin
from governance.roles import IsViewer
from inventory import queries, queries_discovery
from inventory.api_lists import bad_filter_is_400, spec_parameters
from inventory.models import AuthorizationServer, ClientDocument, FetchRecord


class FetchRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = FetchRecord
        fields = [
            "id",
            "at",
            "purpose",
            "method",
            "url",
            "final_url",
            "address",
            "status_code",
            "bytes",
            "elapsed_ms",
            "ok",
            "error_reason",
            "error_message",
        ]


class ClientDocumentSerializer(serializers.ModelSerializer):
    client_id = serializers.CharField(source="client.client_id", read_only=True)

    class Meta:
        model = ClientDocument
        fields = [
            "id",
            "client",
            "client_id",
            "sha256",
            "first_fetched_at",
            "last_fetched_at",
            "is_valid",
            "problems",
            "content",
        ]


class AuthorizationServerSerializer(serializers.ModelSerializer):
    servers = serializers.ListField(
        child=serializers.CharField(), source="guarded_names", read_only=True
    )

    class Meta:
        model = AuthorizationServer
        fields = [
            "id",
            "issuer",
            "metadata_url",
            "authorization_endpoint",
            "token_endpoint",
            "registration_endpoint",
            "revocation_endpoint",
            "introspection_endpoint",
            "jwks_uri",
            "scopes_supported",
            "code_challenge_methods",
            "supports_pkce_s256",
            "cimd_supported",
            "open_registration",
            "grant_types_supported",
            "problems",
            "fetch_ok",
            "servers",
            "first_seen",
            "last_seen",
            "last_fetched_at",
        ]


class FetchRecordViewSet(DeclaredQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    """Outbound fetches, newest first; the fetch log page's filters (FETCH_SPEC)."""

    serializer_class = FetchRecordSerializer
    permission_classes = [IsViewer]
    queryset = FetchRecord.objects.all()
    list_params = tuple(spec_parameters(queries_discovery.FETCH_SPEC))

    def get_queryset(self):
        if self.action != "list":
            return self.queryset.all()
        with bad_filter_is_400():
            return queries_discovery.fetch_records(self.request.query_params)


class ClientDocumentViewSet(DeclaredQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    """CIMD document versions; ?client=<id> for one client's history (CLIENT_DOCUMENT_SPEC)."""

    serializer_class = ClientDocumentSerializer
    permission_classes = [IsViewer]
    queryset = ClientDocument.objects.select_related("client")
    list_params = tuple(spec_parameters(queries_discovery.CLIENT_DOCUMENT_SPEC))

    def get_queryset(self):
        if self.action != "list":
            return self.queryset.all()
        with bad_filter_is_400():
            return queries_discovery.client_documents(self.request.query_params)


class AuthorizationServerViewSet(DeclaredQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    serializer_class = AuthorizationServerSerializer
    permission_classes = [IsViewer]
    queryset = queries.authorization_servers()


def register(router) -> None:
    router.register("fetch-records", FetchRecordViewSet, basename="fetch-record")
    router.register("client-documents", ClientDocumentViewSet, basename="client-document")
    router.register(
        "authorization-servers", AuthorizationServerViewSet, basename="authorization-server"
    )
