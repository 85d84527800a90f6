"""The report forms: what to make (kind, period, format and the kind's filters, as choices, not
a free-text parameter field) and a schedule (the same, with a cadence and addresses)."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.core.validators import validate_email
from django.utils import timezone

from governance.idp.models import IdpConnection
from governance.reports import schedules
from governance.reports.models import ReportFormat, ReportKind, ReportSchedule
from governance.reviews.models import Campaign

# Filters each kind takes besides the period: form field → the builder's parameter.
KIND_FILTERS = {
    ReportKind.ACCESS_INVENTORY: ("idp",),
    ReportKind.CAMPAIGN: ("campaign",),
}
PARAM_NAMES = {"idp": "idp", "campaign": "campaign_id"}


class FiltersMixin(forms.Form):
    """The kind-specific filters, as choices from the console's own objects."""

    idp = forms.ModelChoiceField(
        label="Identity provider",
        queryset=IdpConnection.objects.order_by("name"),
        required=False,
        empty_label="All identity providers",
        help_text="Access inventory only: this IdP's grants.",
    )
    campaign = forms.ModelChoiceField(
        label="Access-review campaign",
        queryset=Campaign.objects.order_by("-pk"),
        required=False,
        empty_label="Choose a campaign",
        help_text="Required for the access-review campaign report.",
    )

    def clean(self):
        data = super().clean()
        if data.get("kind") == ReportKind.CAMPAIGN and not data.get("campaign"):
            self.add_error("campaign", "Choose the campaign this report is about.")
        return data

    def params(self) -> dict:
        """The builder's filters from the cleaned form (only those the kind takes)."""
        data = self.cleaned_data
        params = {}
        for name in KIND_FILTERS.get(data["kind"], ()):
            if data.get(name) is not None:
                params[PARAM_NAMES[name]] = data[name].pk
        return params


class ReportRequestForm(FiltersMixin):
    kind = forms.ChoiceField(
        label="Report",
        choices=ReportKind.choices,
        help_text="The access inventory is a snapshot as of now; the other reports cover the "
        "period.",
    )
    date_from = forms.DateField(
        label="From", widget=forms.DateInput(attrs={"type": "date"}), help_text="First day (UTC)."
    )
    date_to = forms.DateField(
        label="To", widget=forms.DateInput(attrs={"type": "date"}), help_text="Last day, included."
    )
    format = forms.ChoiceField(choices=ReportFormat.choices, initial=ReportFormat.PDF)
    field_order = ["kind", "date_from", "date_to", "format", "idp", "campaign"]

    def __init__(self, *args, **kwargs):
        today = timezone.now().date()
        kwargs.setdefault("initial", {"date_from": today - timedelta(days=90), "date_to": today})
        super().__init__(*args, **kwargs)

    def clean(self):
        data = super().clean()
        first, last = data.get("date_from"), data.get("date_to")
        if first and last and last < first:
            self.add_error("date_to", "The period must end on or after its first day.")
        return data


class ScheduleForm(FiltersMixin, forms.ModelForm):
    class Meta:
        model = ReportSchedule
        fields = ["name", "kind", "format", "cadence", "email_to", "enabled"]
        labels = {"kind": "Report", "email_to": "Email to"}
        help_texts = {
            "cadence": "Each run covers the previous full week (Monday to Sunday), month or "
            "quarter, in UTC.",
            "email_to": "Addresses, comma-separated; the file is attached when small, else "
            "linked. Empty: kept in the console only.",
        }

    field_order = ["name", "kind", "format", "cadence", "idp", "campaign", "email_to", "enabled"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # No "---------" choice: every schedule needs all three, and a blank format left the
        # browser refusing the form with no message on the page.
        for name, choices, first in (
            ("kind", ReportKind.choices, ReportKind.ACCESS_INVENTORY),
            ("format", ReportFormat.choices, ReportFormat.PDF),
            ("cadence", ReportSchedule.Cadence.choices, ReportSchedule.Cadence.WEEKLY),
        ):
            self.fields[name].choices = choices
            self.fields[name].initial = self.initial.get(name) or first
        params = self.instance.params or {}
        if params.get("idp"):
            self.initial.setdefault("idp", params["idp"])
        if params.get("campaign_id"):
            self.initial.setdefault("campaign", params["campaign_id"])

    def clean_email_to(self):
        addresses = schedules.parse_addresses(self.cleaned_data.get("email_to", ""))
        for address in addresses:
            try:
                validate_email(address)
            except forms.ValidationError:
                raise forms.ValidationError(f"{address!r} is not an email address.") from None
        return ", ".join(addresses)

    def values(self) -> dict:
        """What the schedule services take."""
        data = self.cleaned_data
        return {key: data[key] for key in self.Meta.fields} | {"params": self.params()}
