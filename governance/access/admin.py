"""Django admin pieces every app uses: each ModelAdmin records what it changes as an AdminAction.

Django's own LogEntry keeps only a message ("Changed groups."); the console's record keeps
before/after as JSON. Every registered ModelAdmin uses RecordedAdminMixin (a test walks the
registry), so a model whose admin starts allowing changes is recorded from its first change.
An app's admin.py registers its models with `ReadOnlyAdmin` (or a subclass of the mixin).
"""

from django.contrib import admin
from django.db import router, transaction

from governance.access.records import model_snapshot, record_admin_action


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
