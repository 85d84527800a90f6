"""REST API for registries, crawl jobs and servers' registry history.

Viewers read; Admins add and edit registries and start crawls (`POST /registries/{id}/crawl/`),
through the same services (and admin-action records) as the UI.
"""

from contextlib import contextmanager

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from governance.api_schema import DeclaredQueryParamsMixin
from governance.roles import IsAdmin, IsViewer
from inventory import queries_discovery
from inventory.api_lists import bad_filter_is_400, spec_parameters
from inventory.models import Crawl, Registry, ServerChange
from inventory.queries import parse_id, parse_text
from inventory.services import registry as registry_service


class RegistrySerializer(serializers.ModelSerializer):
    class Meta:
        model = Registry
        fields = [
            "id",
            "name",
            "base_url",
            "kind",
            "enabled",
            "crawl_interval_minutes",
            "last_crawled_at",
            "created_at",
        ]
        read_only_fields = ["last_crawled_at", "created_at"]
        # No UniqueValidator on base_url: it compares the raw value, so `https://r.example/v0.1`
        # beside `https://r.example` reached the unique constraint (a 500). validate_base_url
        # checks the normalised value, the one that is stored.
        extra_kwargs = {"base_url": {"validators": []}}

    def validate_base_url(self, value):
        return registry_service.clean_unused_base_url(value, registry=self.instance)

    def validate_crawl_interval_minutes(self, value):
        return registry_service.clean_crawl_interval(value)


class CrawlSerializer(serializers.ModelSerializer):
    class Meta:
        model = Crawl
        fields = [
            "id",
            "kind",
            "target",
            "registry",
            "status",
            "options",
            "pages",
            "records",
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


class StartCrawlSerializer(serializers.Serializer):
    full = serializers.BooleanField(default=False)


class ServerChangeSerializer(serializers.ModelSerializer):
    server_name = serializers.CharField(source="server.name", read_only=True)

    class Meta:
        model = ServerChange
        fields = [
            "id",
            "server",
            "server_name",
            "registry",
            "registry_name",
            "version",
            "field",
            "old_value",
            "new_value",
            "message",
            "changed_at",
            "observed_at",
            "crawl",
        ]


class RegistryViewSet(
    DeclaredQueryParamsMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.ReadOnlyModelViewSet,
):
    """Registries the console crawls. Writes and `crawl` need the Admin role."""

    serializer_class = RegistrySerializer
    queryset = Registry.objects.order_by("name")

    def get_permissions(self):
        if self.request.method in ("GET", "HEAD", "OPTIONS"):
            return [IsViewer()]
        return [IsAdmin()]

    def perform_create(self, serializer):
        with _save_error_is_400():
            serializer.instance = registry_service.create_registry(
                actor=self.request.user, request=self.request, **serializer.validated_data
            )

    def perform_update(self, serializer):
        with _save_error_is_400():
            serializer.instance = registry_service.update_registry(
                serializer.instance,
                actor=self.request.user,
                request=self.request,
                **serializer.validated_data,
            )

    @action(detail=True, methods=["post"])
    def crawl(self, request, pk=None):
        """Start a crawl now (or get the open one); 202 with the crawl."""
        options = StartCrawlSerializer(data=request.data)
        options.is_valid(raise_exception=True)
        crawl = registry_service.start_registry_crawl(
            self.get_object(),
            actor=request.user,
            request=request,
            full=options.validated_data["full"],
        )
        return Response(CrawlSerializer(crawl).data, status=status.HTTP_202_ACCEPTED)


@contextmanager
def _save_error_is_400():
    """A registry saved with the same base_url (or name) since the serializer checked it: the
    service's ValidationError, answered as the serializer's own check would be."""
    try:
        yield
    except DjangoValidationError as exc:
        raise ValidationError(serializers.as_serializer_error(exc)) from exc


class CrawlViewSet(DeclaredQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    """Crawl jobs, newest first; the Discovery page's filters (CRAWL_SPEC)."""

    serializer_class = CrawlSerializer
    permission_classes = [IsViewer]
    queryset = Crawl.objects.select_related("registry")
    list_params = (
        *spec_parameters(queries_discovery.CRAWL_SPEC),
        OpenApiParameter(
            "target", OpenApiTypes.STR, deprecated=True, description="Deprecated spelling of q."
        ),
    )

    def get_queryset(self):
        if self.action != "list":
            return self.queryset.all()
        params = self.request.query_params.copy()
        with bad_filter_is_400():
            if "target" in params:  # the name this list took before it shared the page's
                params.setlist("q", [parse_text("target", v) for v in params.pop("target")])
            return queries_discovery.crawls(params)


class ServerChangeViewSet(DeclaredQueryParamsMixin, viewsets.ReadOnlyModelViewSet):
    """Registry history of servers (status, latest version, repository id); ?server= filter."""

    serializer_class = ServerChangeSerializer
    permission_classes = [IsViewer]
    list_params = (
        OpenApiParameter("server", OpenApiTypes.INT, description="Only this server's history."),
    )

    def get_queryset(self):
        rows = ServerChange.objects.select_related("server").order_by("-observed_at", "-id")
        server = self.request.query_params.get("server", "").strip()
        if not server:
            return rows
        with bad_filter_is_400():
            return rows.filter(server_id=parse_id("server", server))


def register(router) -> None:
    router.register("registries", RegistryViewSet, basename="registry")
    router.register("crawls", CrawlViewSet, basename="crawl")
    router.register("server-changes", ServerChangeViewSet, basename="server-change")
