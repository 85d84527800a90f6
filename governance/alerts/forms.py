"""The destination form: the fields of one kind's wire, its secret (a password input that never
renders a value back), the findings filter and grouping, the audit-event stream. It only
parses; governance/alerts/services.py checks the values and names the field that is wrong."""

from __future__ import annotations

from django import forms

from governance.alerts import services
from governance.alerts.models import Destination
from inventory.finding_rules import RULES_BY_KIND

SEVERITY_CHOICES = [(s, s.title()) for s in services.SEVERITIES]


class KindForm(forms.Form):
    """Step one of adding a destination (a GET form, so it works without JS)."""

    kind = forms.ChoiceField(choices=Destination.Kind.choices)


class DestinationForm(forms.Form):
    name = forms.CharField(max_length=100)
    enabled = forms.BooleanField(required=False, initial=True)
    url = forms.CharField(
        label="URL",
        max_length=1000,
        help_text="https://... (plain http only to 127.0.0.1). For Splunk, the HEC base URL "
        "(https://splunk:8088) or its /services/collector/event.",
    )
    host = forms.CharField(max_length=255, help_text="The syslog receiver's name or address.")
    port = forms.IntegerField(
        min_value=1, max_value=65535, initial=6514, help_text="6514 for TLS (RFC 5425)."
    )
    # TLS first: RFC 5424 §5.1 recommends it, and audit trails cross networks
    syslog_transport = forms.ChoiceField(
        label="Transport", choices=Destination.SyslogTransport.choices, initial="tls"
    )
    tls_ca_pem = forms.CharField(
        label="CA certificate (PEM)",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="A private CA to trust for this receiver's certificate, besides the system's "
        "trust store and the public CAs the console ships with. The host name is always checked.",
    )
    email_to = forms.CharField(
        label="Recipients", max_length=1000, help_text="Email addresses, comma-separated."
    )
    send_findings = forms.BooleanField(required=False, initial=True)
    min_severity = forms.ChoiceField(choices=SEVERITY_CHOICES, initial="high")
    kinds = forms.MultipleChoiceField(
        required=False,
        choices=[(k, k) for k in sorted(RULES_BY_KIND)],
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="Only these rules' findings; none selected: every rule.",
    )
    send_resolved = forms.BooleanField(required=False, help_text="Also say when they resolve.")
    group_by = forms.ChoiceField(choices=Destination.GroupBy.choices)
    group_wait_seconds = forms.IntegerField(
        initial=1, help_text="Wait this long after a group's first finding before sending."
    )
    group_interval_seconds = forms.IntegerField(
        initial=300, help_text="Then at most one message per group this often."
    )
    repeat_interval_seconds = forms.IntegerField(
        initial=4 * 3600, help_text="Re-send a group still open after this long."
    )
    forward_events = forms.BooleanField(
        required=False, label="Stream audit events", help_text="Every stored audit event, in order."
    )
    event_format = forms.ChoiceField(choices=Destination.EventFormat.choices)

    def __init__(self, *args, kind: str, creating: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        needs = services.NEEDS[kind]
        for name in ("url", "host", "port", "syslog_transport", "email_to"):
            if name not in needs:
                del self.fields[name]
        if kind == Destination.Kind.EMAIL:
            for name in ("tls_ca_pem", "forward_events", "event_format"):
                del self.fields[name]
        if kind in services.SECRET_KINDS:
            self.fields["secret"] = forms.CharField(
                label=services.SECRET_LABEL[kind],
                required=creating,
                strip=True,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
                help_text="Stored encrypted, never shown again."
                + ("" if creating else " Leave empty to keep the current one."),
            )

    def values(self) -> dict:
        """What the service takes, without the secret."""
        return {k: v for k, v in self.cleaned_data.items() if k != "secret"}

    def add_service_errors(self, errors: dict) -> None:
        """Show a service's ValidationError on the field it names (else on the form)."""
        for key, messages in errors.items():
            for message in messages:
                self.add_error(key if key in self.fields else None, message)


def initial_for(destination: Destination) -> dict:
    return {name: getattr(destination, name) for name in services.EDITABLE}
