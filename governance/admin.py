"""The Django admin: every ModelAdmin records what it changes as an AdminAction.

Django's own LogEntry keeps only a message ("Changed groups."); the console's record keeps
before/after as JSON. Every registered ModelAdmin uses RecordedAdminMixin (a test walks the
registry), so a model whose admin starts allowing changes is recorded from its first change.
"""

from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, User
from django.db import router, transaction
from django.utils.html import format_html

from governance.models import AdminAction
from governance.services import model_snapshot, record_admin_action


class RecordedAdminMixin:
    """Adds, changes (form, list_editable, user password) and deletes (one or bulk) through the
    Django admin are recorded: `<model>.created|updated|deleted`, before/after as JSON.

    Django calls log_addition / log_change after the save, and log_deletions before the delete,
    inside the view's transaction (bulk delete: see response_action), so the record commits or
    rolls back with the change.
    """

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:  # the form changes this instance in place: keep its old state
            obj._recorded_before = model_snapshot(obj)
        return obj

    def save_model(self, request, obj, form, change):
        if change and not hasattr(obj, "_recorded_before"):  # list_editable: no get_object
            fresh = type(obj)._default_manager.filter(pk=obj.pk).first()
            obj._recorded_before = model_snapshot(fresh) if fresh is not None else None
        super().save_model(request, obj, form, change)

    def _record(self, request, obj, verb: str, *, before, after, note: str = ""):
        action = getattr(request, "_recorded_action", None) or f"{obj._meta.model_name}.{verb}"
        record_admin_action(
            actor=request.user,
            action=action,
            obj=obj,
            before=before,
            after=after,
            request=request,
            note=f"Django admin. {note}".strip(),
        )

    def log_addition(self, request, obj, message):
        entry = super().log_addition(request, obj, message)
        self._record(request, obj, "created", before=None, after=model_snapshot(obj))
        return entry

    def log_change(self, request, obj, message):
        entry = super().log_change(request, obj, message)
        self._record(
            request,
            obj,
            "updated",
            before=getattr(obj, "_recorded_before", None),
            after=model_snapshot(obj),
        )
        return entry

    def log_deletions(self, request, queryset):
        entries = super().log_deletions(request, queryset)
        for obj in queryset:
            self._record(request, obj, "deleted", before=model_snapshot(obj), after=None)
        return entries

    def response_action(self, request, queryset):
        # Admin actions (bulk delete) run outside the view's transaction: one here, so the
        # records and the deletions commit together.
        with transaction.atomic(using=router.db_for_write(self.model)):
            return super().response_action(request, queryset)


class ReadOnlyAdmin(RecordedAdminMixin, admin.ModelAdmin):
    """Viewable only (the one read-only admin of every app: changes go through services and the
    console); recorded all the same, should a subclass ever allow a change."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class RecordedUserAdmin(RecordedAdminMixin, auth_admin.UserAdmin):
    """Django's user admin; a password set here is `user.password_changed` (hash hidden)."""

    def user_change_password(self, request, id, form_url=""):
        request._recorded_action = "user.password_changed" if request.method == "POST" else None
        with transaction.atomic(using=router.db_for_write(self.model)):
            return super().user_change_password(request, id, form_url)


class RecordedGroupAdmin(RecordedAdminMixin, auth_admin.GroupAdmin):
    """Django's group admin, recorded."""


admin.site.unregister(User)
admin.site.unregister(Group)
admin.site.register(User, RecordedUserAdmin)
admin.site.register(Group, RecordedGroupAdmin)


@admin.register(AdminAction)
class AdminActionAdmin(ReadOnlyAdmin):
    """The admin-action log is append-only: viewable, never editable."""

    list_display = ["at", "actor_repr", "action", "object_type", "object_repr"]
    list_filter = ["action", "object_type"]
    search_fields = ["actor_repr", "object_repr", "action"]
    exclude = ["before", "after"]
    readonly_fields = ["before_json", "after_json"]

    @admin.display(description="before")
    def before_json(self, obj):
        return format_html("<pre>{}</pre>", obj.before_pretty)

    @admin.display(description="after")
    def after_json(self, obj):
        return format_html("<pre>{}</pre>", obj.after_pretty)
