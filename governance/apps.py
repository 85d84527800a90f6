"""The governance app's config: connects the lockout record to django-axes' signal."""

from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self):
        # Imported here: lockouts imports the models, which load only once the registry is ready.
        from axes.signals import user_locked_out

        from governance.access.lockouts import record_lockout

        user_locked_out.connect(record_lockout, dispatch_uid="governance.record_lockout")
