"""`manage.py revoke ...`: the containment actions from a shell, run inline with a progress bar.

    revoke grant ID [--token VALUE ...]     revoke one grant (and token values you hold)
    revoke identity ID [--client ID]        cut an identity off, or revoke what it gave a client
    revoke client ID                        the kill switch
    revoke bulk --filter 'unused_days=90&scope=x'   the grants the grant list's filter matches
    revoke undo REVOCATION_ID               reactivate what a kill switch deactivated

`--reason` is required (recorded); `--dry-run` prints the plan and changes nothing.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from django.core.management.base import BaseCommand, CommandError

from governance.access.lists.filters import InvalidFilter
from governance.access.records import acting_from_command
from governance.containment import services
from governance.containment.models import Revocation
from governance.platform.progress_bars import run_with_bars
from inventory.models import Client, Grant, Identity


class Command(BaseCommand):
    help = "Revoke through the IdPs (grant, identity, client kill switch, bulk, undo), inline."

    def add_arguments(self, parser):
        parser.add_argument("what", choices=["grant", "identity", "client", "bulk", "undo"])
        parser.add_argument("id", nargs="?", help="the grant / identity / client / revocation id")
        parser.add_argument("--client", dest="client_id", help="identity: only this client")
        parser.add_argument("--filter", default="", help="bulk: the grant list's query string")
        parser.add_argument(
            "--token", action="append", default=[], help="grant: a token value you hold"
        )
        parser.add_argument("--reason", default="", help="why (required, recorded)")
        parser.add_argument("--dry-run", action="store_true", help="print the plan only")

    def handle(self, *args, what, id, client_id, filter, token, reason, dry_run, **options):
        with acting_from_command("revoke"):
            try:
                kwargs = self._target(what, id, client_id, filter, token)
                if dry_run:
                    self._print_plan(services.build_plan(**kwargs))
                    return
                revocation = self._start(what, kwargs, reason)
            except (ValueError, InvalidFilter) as exc:
                raise CommandError(str(exc)) from exc
            if revocation.status != Revocation.Status.QUEUED:
                raise CommandError(f"revocation #{revocation.pk} is already running")
            outcome = run_with_bars(Revocation, revocation.pk, records=("steps", "step"))
            if outcome == "not-claimed":
                raise CommandError(f"revocation #{revocation.pk} was claimed by a worker first")
            self._summary(Revocation.objects.get(pk=revocation.pk))

    def _target(self, what, pk, client_id, filter_text, tokens) -> dict:
        if what == "bulk":
            params = dict(parse_qsl(filter_text.lstrip("?"), keep_blank_values=False))
            if not params:
                raise CommandError("bulk needs --filter (e.g. 'unused_days=90&scope=crm:write')")
            return {"action": "bulk", "filter_params": params}
        if not pk:
            raise CommandError(f"{what} needs an id")
        if what == "grant":
            return {"action": "grant", "grant": _get(Grant, pk), "tokens": tokens}
        if tokens:
            raise CommandError("--token is for `revoke grant` only")
        if what == "identity":
            identity = _get(Identity, pk)
            if client_id:
                return {
                    "action": "identity_client",
                    "identity": identity,
                    "client": _get(Client, client_id),
                }
            return {"action": "identity", "identity": identity}
        if what == "client":
            return {"action": "client", "client": _get(Client, pk)}
        return {"action": "undo", "revocation": _get(Revocation, pk)}

    def _start(self, what, kwargs, reason) -> Revocation:
        if what == "undo":
            return services.undo_revocation(
                actor=None, revocation=kwargs["revocation"], reason=reason, enqueue=False
            )
        kwargs = {k: v for k, v in kwargs.items() if k != "action"}
        return services.start_revocation(
            actor=None, action=_action(what, kwargs), reason=reason, enqueue=False, **kwargs
        )

    def _print_plan(self, plan) -> None:
        self.stdout.write(
            f"plan ({plan.action}): {plan.grants} grant(s), {plan.tokens} token(s), "
            f"{plan.sessions} session(s), {plan.tasks} task(s), {plan.clients} client(s); "
            f"IdPs: {', '.join(plan.idps) or 'none'}"
        )
        if plan.matched > plan.grants:
            self.stdout.write(f"  matched {plan.matched}, capped")
        for position, step in enumerate(plan.steps, start=1):
            skipped = f"  [skipped: {step.skip_reason}]" if step.skip_reason else ""
            self.stdout.write(f"  {position:>3}. {step.kind:<6} {step.description}{skipped}")
        for warning in plan.warnings:
            self.stdout.write(f"  ! {warning}")
        self.stdout.write("dry run: nothing was changed")

    def _summary(self, revocation: Revocation) -> None:
        self.stdout.write(
            f"revocation #{revocation.pk} ({revocation.get_action_display()}): "
            f"{revocation.get_outcome_display().lower()}, proof "
            f"{revocation.get_proof_display().lower()}, in {revocation.elapsed or 0} s"
        )
        for step in revocation.steps.order_by("position"):
            line = f"  {step.position:>3}. {step.state:<8} {step.description}"
            if step.kind == "verify" and step.evidence:
                line += f" — {step.evidence}"
            if step.error:
                line += f" — {step.error}"
            self.stdout.write(line)
        for item in revocation.residual:
            until = item.get("until") or "unknown"
            self.stdout.write(f"  residual: {item['what']} (until {until})")
        if revocation.outcome == Revocation.Outcome.FAILED:
            raise CommandError(f"revocation #{revocation.pk} failed")


def _action(what: str, kwargs: dict) -> str:
    if what == "identity":
        return "identity_client" if "client" in kwargs else "identity"
    return what


def _get(model, pk):
    try:
        return model.objects.get(pk=int(pk))
    except (ValueError, TypeError):
        raise CommandError(f"{pk!r} is not a numeric id") from None
    except model.DoesNotExist:
        raise CommandError(f"no {model._meta.verbose_name} has the id {pk}") from None
