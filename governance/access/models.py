"""The shared layer's models: the admin-action record, the console's own settings, API tokens.

They keep the app label `governance` (this package is inside that app) and their tables, so
moving them here needed no migration; governance/models.py imports them for Django to find."""

import json

from django.conf import settings
from django.db import models


class AdminAction(models.Model):
    """One thing an admin (or the system on an admin's behalf) changed: who, what, when, and
    before/after.

    Keeps a `repr` of the object so the history survives the object's deletion (NetBox's habit).
    Append-only: nothing in the app updates or deletes these rows.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="admin_actions",
    )
    actor_repr = models.CharField(max_length=200, help_text="Username at the time, or 'system'.")
    action = models.CharField(max_length=100, db_index=True, help_text='e.g. "grant.revoked"')
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=200, blank=True)
    object_repr = models.CharField(max_length=500, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_repr} {self.action} {self.object_repr}"

    @property
    def before_pretty(self) -> str:
        """`before` as indented JSON with sorted keys ('' when there is none), for pages."""
        return _pretty_json(self.before)

    @property
    def after_pretty(self) -> str:
        """`after` as indented JSON with sorted keys ('' when there is none), for pages."""
        return _pretty_json(self.after)


def _pretty_json(value) -> str:
    return "" if value is None else json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


class SiteSetting(models.Model):
    """Small key/value facts the console keeps about itself (e.g. the demo data's time anchor)."""

    key = models.CharField(max_length=100, unique=True)
    value = models.JSONField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return self.key


class ApiToken(models.Model):
    """A bearer token for automation (governance/access/api_tokens.py).

    Only the SHA-256 of the secret is kept: a database leak yields no usable token, and the
    secret is high-entropy random, so an unsalted fast hash is enough and lets authentication
    look the token up by its hash. `prefix` is the secret's first characters, shown so people
    can tell tokens apart. A service token belongs to a service account: a user with an
    unusable password (it cannot sign in), so the role checks apply to it unchanged.
    """

    class Scope(models.TextChoices):
        READ = "read", "read (Viewer)"
        EXPORT = "export", "export (Auditor)"
        ADMIN = "admin", "admin (Admin)"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    scope = models.CharField(max_length=10, choices=Scope.choices)
    prefix = models.CharField(max_length=16)
    secret_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(scope__in=["read", "export", "admin"]),
                name="apitoken_scope_known",
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"

    def is_usable(self, now) -> bool:
        return self.revoked_at is None and self.expires_at > now
