from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self):
        from axes.signals import user_locked_out

        from governance.lockouts import record_lockout

        user_locked_out.connect(record_lockout, dispatch_uid="governance.record_lockout")
