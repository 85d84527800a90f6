"""`manage.py add_idp KIND NAME --config key=value ... [--issuer URL ...] --secret-stdin`:
add an IdP connection from the command line (recorded as done by the OS user and this command).

The credential is read from stdin or a file, never from the arguments: arguments land in shell
history and in every process listing.
"""

from __future__ import annotations

import pathlib
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from governance.access.records import acting_from_command
from governance.idp import connections, kinds


def _describe(exc: ValidationError) -> str:
    """`config_domain: ...; secret: ...`: each field and its messages."""
    if not hasattr(exc, "error_dict"):
        return " ".join(exc.messages)
    return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.message_dict.items())


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise CommandError(f"--config takes key=value, not {text!r}")
    return key.strip(), value


class Command(BaseCommand):
    help = (
        "Add an identity-provider connection. Kinds and their settings: "
        + "; ".join(
            f"{k.name}: {', '.join(f.name + ('' if f.required else '?') for f in k.fields)}"
            for k in kinds.KINDS.values()
        )
        + ". The credential comes from stdin (--secret-stdin) or a file (--secret-file)."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=list(kinds.KINDS))
        parser.add_argument("name")
        parser.add_argument(
            "--config",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="a setting of the kind (repeat for each)",
        )
        parser.add_argument(
            "--issuer",
            action="append",
            default=[],
            help="an issuer URL it answers for (repeat; default: the kind's usual issuer)",
        )
        source = parser.add_mutually_exclusive_group()
        source.add_argument(
            "--secret-stdin", action="store_true", help="read the credential from stdin"
        )
        source.add_argument("--secret-file", help="read the credential from this file")
        parser.add_argument("--sync-interval", type=int, default=60, help="minutes; 0 = manual")

    def handle(self, *args, kind, name, config, issuer, secret_stdin, secret_file, **options):
        settings = dict(_pair(item) for item in config)
        secret = self._secret(secret_stdin, secret_file)
        with acting_from_command("add_idp"):
            try:
                connection = connections.add_connection(
                    actor=None,
                    kind=kind,
                    name=name,
                    config=settings,
                    secret=secret,
                    issuers=issuer,
                    sync_interval_minutes=options["sync_interval"],
                )
            except ValidationError as exc:
                raise CommandError(f"cannot add {name!r}: {_describe(exc)}") from exc
        issuers = ", ".join(connection.issuers.values_list("issuer", flat=True)) or "none"
        self.stdout.write(
            f"added {connection.get_kind_display()} connection {connection.name!r} "
            f"(#{connection.pk}); issuers: {issuers}. The credential is stored encrypted."
        )

    def _secret(self, from_stdin: bool, path: str | None) -> str:
        if path:
            try:
                return pathlib.Path(path).read_text(encoding="utf-8")
            except (OSError, UnicodeError) as exc:
                # The reason only (e.g. "No such file or directory"), never the file's content.
                reason = getattr(exc, "strerror", None) or type(exc).__name__
                raise CommandError(f"cannot read the credential file: {reason}") from None
        if from_stdin:
            return sys.stdin.read()
        raise CommandError(
            "the credential is needed: pipe it with --secret-stdin or name a --secret-file "
            "(never on the command line, where shell history and process lists keep it)"
        )
