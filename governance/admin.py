"""The Django admin's registrations for the governance app and for Django's users and groups.

The recording mixin and the read-only admin every app uses live in governance/access/admin.py.
"""

from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.models import Group, User
from django.db import router, transaction
from django.utils.html import format_html

from governance.access.admin import ReadOnlyAdmin, RecordedAdminMixin
from governance.access.models import AdminAction


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
