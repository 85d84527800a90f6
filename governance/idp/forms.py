"""The console's forms for IdP connections: one add form per kind (that kind's settings, the
credential as a password input that never renders its value), the edit form and the rotate form.
They only parse; the services in connections.py check the values and say what is wrong."""

from __future__ import annotations

from django import forms

from governance.idp import kinds
from governance.idp.models import IdpConnection

CONFIG_PREFIX = "config_"


class KindForm(forms.Form):
    """Step one of adding a connection: which kind (a GET form, so it works without JS)."""

    kind = forms.ChoiceField(choices=IdpConnection.Kind.choices)


class ConnectionForm(forms.Form):
    """A connection's name, the settings of its kind, its issuers and sync interval; the add
    form also takes the credential."""

    name = forms.CharField(max_length=100)

    def __init__(self, *args, kind: str, with_secret: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kinds.KINDS[kind]
        for field in self.kind.fields:
            self.fields[CONFIG_PREFIX + field.name] = forms.CharField(
                label=field.label,
                help_text=field.help,
                required=field.required,
                max_length=500,
            )
        self.fields["issuers"] = forms.CharField(
            widget=forms.Textarea(attrs={"rows": 3}),
            required=False,
            help_text="The issuer URLs this connection answers for, one a line; grants, "
            "identities and events from them resolve to it. Empty: the kind's usual issuer.",
        )
        self.fields["sync_interval_minutes"] = forms.IntegerField(
            min_value=0,
            initial=60,
            label="Sync every (minutes)",
            help_text="0: only when asked.",
        )
        if with_secret:
            self.fields["secret"] = secret_field(self.kind)

    def config(self) -> dict:
        """The kind's settings from the cleaned form, without the empty ones."""
        return {
            name.removeprefix(CONFIG_PREFIX): value
            for name, value in self.cleaned_data.items()
            if name.startswith(CONFIG_PREFIX) and value
        }

    def issuers(self) -> list[str]:
        return self.cleaned_data.get("issuers", "").split()

    def add_service_errors(self, errors: dict) -> None:
        """Show a service's ValidationError on the field it names (else on the form)."""
        for key, messages in errors.items():
            name = key if key in self.fields else CONFIG_PREFIX + key
            for message in messages:
                self.add_error(name if name in self.fields else None, message)


def secret_field(kind: kinds.Kind) -> forms.CharField:
    """The credential: a password input that never renders a value back."""
    return forms.CharField(
        label=kind.secret_label,
        help_text=kind.secret_help
        + (
            " Paste it whole; line breaks may be lost, that is fine."
            if kind.multiline_secret
            else ""
        ),
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        strip=False,
    )


class RotateForm(forms.Form):
    """A new credential for a connection."""

    def __init__(self, *args, kind: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["secret"] = secret_field(kinds.KINDS[kind])


def initial_for(connection: IdpConnection) -> dict:
    """The edit form's values for an existing connection."""
    return {
        "name": connection.name,
        "sync_interval_minutes": connection.sync_interval_minutes,
        "issuers": "\n".join(connection.issuers.values_list("issuer", flat=True)),
        **{CONFIG_PREFIX + key: value for key, value in connection.config.items()},
    }
