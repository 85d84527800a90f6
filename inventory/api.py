"""Read-only REST API for the inventory (registered on the one router in governance/urls.py).

Lists take the same query parameters as the pages (`q`, the filters, `sort`), because both call
the same functions in inventory/queries.py.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, viewsets

from governance.access.lists.filters import ListSpec
from governance.access.lists.schema import (
    DeclaredQueryParamsMixin,
    bad_filter_is_400,
    spec_parameters,
)
from governance.access.roles import IsViewer
from inventory import api_discovery_fetch, api_registry, queries, queries_protocol
from inventory.models import (
    TASK_EXPIRED,
    Client,
    Flag,
    Grant,
    Identity,
    ProtocolProfile,
    Server,
    Task,
    UrlElicitation,
)

SIGHTING_FIELDS = ["first_seen", "last_seen", "seen_from"]


class IdentitySerializer(serializers.ModelSerializer):
    class Meta:
        model = Identity
        fields = [
            "id",
            "issuer",
            "subject",
            "display_name",
            "email",
            "kind",
            "status",
            "owner",
            "team",
            *SIGHTING_FIELDS,
        ]


class ProtocolProfileSerializer(serializers.ModelSerializer):
    """What a client or server last declared (initialize, or 2026-07-28 request metadata)."""

    class Meta:
        model = ProtocolProfile
        fields = [
            "protocol_version",
            "capabilities",
            "capabilities_invalid",
            "extensions",
            "extensions_dropped",
            "info_name",
            "info_version",
            "info_title",
            "info_website",
            "sampling",
            "sampling_tools",
            "elicitation_url",
            "first_seen",
            "changed_at",
            "last_seen",
        ]


def _protocol(obj):
    """The peer's protocol profile (prefetched as `protocol_profiles`), or None."""
    profiles = list(obj.protocol_profiles.all())
    return ProtocolProfileSerializer(profiles[0]).data if profiles else None


class ClientSerializer(serializers.ModelSerializer):
    active_grants = serializers.IntegerField(
        read_only=True, help_text="Grants of this client that are active."
    )
    protocol = serializers.SerializerMethodField(
        help_text="What it last declared: capabilities, extensions, *Info (null: never seen)."
    )

    @extend_schema_field(ProtocolProfileSerializer(allow_null=True))
    def get_protocol(self, obj):
        return _protocol(obj)

    class Meta:
        model = Client
        fields = [
            "id",
            "client_id",
            "issuer",
            "registration",
            "name",
            "version",
            "owner",
            "review_status",
            "active_grants",
            "protocol",
            *SIGHTING_FIELDS,
        ]


class ServerSerializer(serializers.ModelSerializer):
    protocol = serializers.SerializerMethodField(
        help_text="What it last declared: capabilities, extensions, *Info (null: never seen)."
    )

    @extend_schema_field(ProtocolProfileSerializer(allow_null=True))
    def get_protocol(self, obj):
        return _protocol(obj)

    class Meta:
        model = Server
        fields = [
            "id",
            "name",
            "title",
            "description",
            "latest_version",
            "repository_url",
            "registry_status",
            "owner",
            "review_status",
            "protocol",
            *SIGHTING_FIELDS,
        ]


class GrantSerializer(serializers.ModelSerializer):
    class Meta:
        model = Grant
        fields = [
            "id",
            "issuer",
            "external_id",
            "subject",
            "client",
            "server",
            "resource",
            "scopes",
            "grant_type",
            "has_refresh_token",
            "issued_at",
            "expires_at",
            "last_used_at",
            "access_token_expires_at",
            "status",
            "revoked_at",
            "revoked_by",
            "revoke_reason",
            "vanished_at",
            *SIGHTING_FIELDS,
        ]


class TaskSerializer(serializers.ModelSerializer):
    # Computed on read (Task.is_past_ttl): a task still running after its TTL is "expired".
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    expired = serializers.BooleanField(read_only=True)
    effective_status = serializers.ChoiceField(
        read_only=True, choices=[*Task.Status.values, TASK_EXPIRED]
    )

    class Meta:
        model = Task
        fields = [
            "id",
            "task_id",
            "server",
            "client",
            "identity",
            "grant",
            "session_id",
            "method",
            "tool_name",
            "status",
            "effective_status",
            "expired",
            "expires_at",
            "status_message",
            "created_at",
            "last_updated_at",
            "ttl_ms",
            "ttl_unlimited",
            "poll_interval_ms",
            "protocol_version",
            "flagged",
            "flag_reason",
            # Orphaned by a revocation (governance.containment): when, by which revocation id,
            # and what was done about it (cancel requested/accepted/failed, or owner action).
            "orphaned_at",
            "orphaned_by_revocation",
            "owner_action",
            *SIGHTING_FIELDS,
        ]


class FlagSerializer(serializers.ModelSerializer):
    class Meta:
        model = Flag
        fields = [
            "id",
            "kind",
            "severity",
            "object_type",
            "object_id",
            "object_repr",
            "summary",
            "details",
            "raised_at",
            "last_raised_at",
            "times_raised",
            "resolved_at",
            "resolved_by",
        ]


class UrlElicitationSerializer(serializers.ModelSerializer):
    class Meta:
        model = UrlElicitation
        fields = [
            "id",
            "elicitation_id",
            "origin",
            "url_had_credentials",
            "url_redacted",
            "via_error",
            "action",
            "server",
            "server_name",
            "client",
            "identity",
            "session_id",
            "requested_at",
            "completed_at",
            "event_ref",
            "first_seen",
            "last_seen",
        ]


class _InventoryViewSet(DeclaredQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    """A read-only list + detail endpoint whose list filters come from inventory/queries.py
    (`list_params`, generated from the list's spec: published and enforced)."""

    permission_classes = [IsViewer]
    rows = None  # a function of the query parameters, from inventory/queries.py

    def get_queryset(self):
        if self.action != "list":
            return self.queryset.all()
        with bad_filter_is_400():
            return self.rows(self.request.query_params)


def _documented(name: str, spec: ListSpec):
    """Declare the list's query parameters (generated from its spec) and name its operations."""

    def decorate(viewset):
        viewset.list_params = tuple(spec_parameters(spec))
        return extend_schema_view(
            list=extend_schema(summary=f"List {name}"),
            retrieve=extend_schema(summary=f"One of the {name}"),
        )(viewset)

    return decorate


@_documented("identities", queries.IDENTITY_SPEC)
class IdentityViewSet(_InventoryViewSet):
    """Humans, services and agents as their IdPs know them."""

    queryset, serializer_class = Identity.objects.all(), IdentitySerializer
    rows = staticmethod(queries.identities)


@_documented("clients", queries.CLIENT_SPEC)
class ClientViewSet(_InventoryViewSet):
    """MCP / OAuth clients, with their active-grant count."""

    queryset = queries.clients({}).prefetch_related("protocol_profiles")
    serializer_class = ClientSerializer
    rows = staticmethod(queries.clients)


@_documented("servers", queries.SERVER_SPEC)
class ServerViewSet(_InventoryViewSet):
    """MCP servers."""

    queryset = Server.objects.prefetch_related("protocol_profiles")
    serializer_class = ServerSerializer
    rows = staticmethod(queries.servers)


@_documented("grants", queries.GRANT_SPEC)
class GrantViewSet(_InventoryViewSet):
    """Delegated grants."""

    queryset, serializer_class = Grant.objects.all(), GrantSerializer
    rows = staticmethod(queries.grants)


@_documented("tasks", queries.TASK_SPEC)
class TaskViewSet(_InventoryViewSet):
    """Long-running MCP tasks."""

    queryset, serializer_class = Task.objects.all(), TaskSerializer
    rows = staticmethod(queries.tasks)


@_documented("flags", queries.FLAG_SPEC)
class FlagViewSet(_InventoryViewSet):
    """Flags raised on inventory objects (open and resolved; filter with open=true)."""

    queryset, serializer_class = Flag.objects.all(), FlagSerializer
    rows = staticmethod(queries.flags)


@_documented("URL elicitations", queries_protocol.ELICITATION_SPEC)
class UrlElicitationViewSet(_InventoryViewSet):
    """URL-mode elicitations (MCP 2025-11-25): the URL's origin only, never the rest."""

    queryset, serializer_class = UrlElicitation.objects.all(), UrlElicitationSerializer
    rows = staticmethod(queries_protocol.url_elicitations)


def register(router) -> None:
    """Add this app's viewsets to the project router."""
    # Registries (with their Admin writes and crawls) are served by api_registry.
    router.register("identities", IdentityViewSet, basename="identity")
    router.register("clients", ClientViewSet, basename="client")
    router.register("servers", ServerViewSet, basename="server")
    router.register("grants", GrantViewSet, basename="grant")
    router.register("tasks", TaskViewSet, basename="task")
    router.register("flags", FlagViewSet, basename="flag")
    router.register("url-elicitations", UrlElicitationViewSet, basename="url_elicitation")
    # Registries (with their Admin writes and crawls), the fetch log and CIMD documents.
    api_registry.register(router)
    api_discovery_fetch.register(router)
