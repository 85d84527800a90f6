"""The governance app's config: lockout records (django-axes' signal); IdP syncs and
revocations as job kinds; company sign-in's configuration checks."""

from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    name = "governance"
    verbose_name = "Governance"

    def ready(self):
        # Imported here: lockouts imports the models, which load only once the registry is ready.
        from axes.signals import user_locked_out

        from governance.access.lockouts import record_lockout

        user_locked_out.connect(record_lockout, dispatch_uid="governance.record_lockout")

        # IdP syncs are a job kind: the engine sends `run_idp_sync`, and its sweeper covers them.
        from governance.idp import sync, tasks
        from governance.idp.models import IdpSync
        from governance.platform import jobs

        jobs.register_job_kind(IdpSync, enqueue=tasks.run_idp_sync.delay)
        jobs.register_runner(IdpSync, "", sync.run_sync)

        # Revocations too (issue 13): the sweeper resumes one whose worker died.
        from governance.containment import outcome as containment_outcome
        from governance.containment import runner as containment_runner
        from governance.containment import tasks as containment_tasks
        from governance.containment.models import Revocation

        # A revocation the engine gives up on still ends with an outcome and its audit event.
        jobs.register_job_kind(
            Revocation,
            enqueue=containment_tasks.run_revocation.delay,
            on_give_up=containment_outcome.give_up,
        )
        jobs.register_runner(Revocation, "", containment_runner.run_revocation)

        # Reports are a job kind too (issue 16): the runner builds, renders and hashes the file.
        # Access reviews' tasks are registered in every process: closing a campaign sends its
        # finishing task by name (services.py cannot import tasks.py, which imports it).
        from governance.reports import services as report_services
        from governance.reports import tasks as report_tasks
        from governance.reports.models import ReportRun
        from governance.reviews import tasks as review_tasks  # noqa: F401

        jobs.register_job_kind(ReportRun, enqueue=report_tasks.run_report.delay)
        jobs.register_runner(ReportRun, "", report_services.run_report)

        from governance.sso import checks  # noqa: F401 - registers company sign-in's checks
