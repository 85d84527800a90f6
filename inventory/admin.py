"""Read-mostly Django admin for the inventory: changes go through services and the console UI."""

from django.contrib import admin

from governance.access.admin import ReadOnlyAdmin
from inventory import models


@admin.register(models.Identity)
class IdentityAdmin(ReadOnlyAdmin):
    list_display = ["display_name", "email", "issuer", "kind", "status", "last_seen"]
    list_filter = ["kind", "status", "issuer"]
    search_fields = ["display_name", "email", "subject"]


@admin.register(models.Client)
class ClientAdmin(ReadOnlyAdmin):
    list_display = ["name", "client_id", "registration", "review_status", "last_seen"]
    list_filter = ["registration", "review_status"]
    search_fields = ["name", "client_id"]


@admin.register(models.Server)
class ServerAdmin(ReadOnlyAdmin):
    list_display = ["name", "title", "latest_version", "registry_status", "last_seen"]
    list_filter = ["registry_status", "review_status"]
    search_fields = ["name", "title"]


@admin.register(models.Registry)
class RegistryAdmin(ReadOnlyAdmin):
    list_display = ["name", "base_url", "kind", "enabled", "last_crawled_at"]


@admin.register(models.Grant)
class GrantAdmin(ReadOnlyAdmin):
    list_display = ["external_id", "client", "subject", "grant_type", "status", "expires_at"]
    list_filter = ["status", "grant_type", "issuer"]
    search_fields = ["external_id"]
    raw_id_fields = ["subject", "client", "server"]


@admin.register(models.Task)
class TaskAdmin(ReadOnlyAdmin):
    list_display = ["task_id", "server", "status", "tool_name", "last_updated_at", "flagged"]
    list_filter = ["status", "flagged"]
    search_fields = ["task_id"]
    raw_id_fields = ["server", "client", "identity", "grant"]


for model in (models.ServerVersion, models.ServerRemote, models.Tool, models.TaskStatusChange):
    admin.site.register(model, ReadOnlyAdmin)
admin.site.register(models.Flag, ReadOnlyAdmin)
for model in (
    models.Crawl,
    models.ServerVersionRecord,
    models.ServerPackage,
    models.ServerChange,
    models.FetchRecord,
    models.ClientDocumentState,
    models.ClientDocument,
    models.AuthorizationServer,
    models.ProtectedResource,
):
    admin.site.register(model, ReadOnlyAdmin)
