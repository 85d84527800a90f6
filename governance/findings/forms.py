"""The triage forms: one for an action on one finding, one for the same action on the ticked
rows of the list. The services validate what depends on the finding or the clock (the end of a
suppression must be in the future); their errors land under the field they name."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model

from governance.findings.services import ACTIONS, MAX_BULK, MAX_NOTE, TriageError

ACTION_LABELS = {
    "acknowledge": "Acknowledge",
    "resolve": "Resolve",
    "suppress": "Suppress until…",
    "reopen": "Reopen",
    "assign": "Assign",
}


class TriageForm(forms.Form):
    """What an action takes: a note always, an end and a reason to suppress, a user to assign."""

    action = forms.ChoiceField(choices=[(a, ACTION_LABELS[a]) for a in ACTIONS])
    note = forms.CharField(
        required=False, max_length=MAX_NOTE, strip=True, widget=forms.TextInput(attrs={"size": 40})
    )
    until = forms.DateTimeField(
        required=False,
        label="Suppress until",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    reason = forms.CharField(required=False, max_length=MAX_NOTE, strip=True)
    assignee = forms.CharField(
        required=False, max_length=150, help_text="A username; empty: nobody."
    )

    def clean_assignee(self):
        username = self.cleaned_data.get("assignee", "")
        if not username:
            return None
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(f"no active user {username!r}")
        return user

    def options(self) -> dict:
        """The keyword arguments of the service call for the chosen action."""
        data, action = self.cleaned_data, self.cleaned_data["action"]
        if action == "suppress":
            return {"until": data.get("until"), "reason": data.get("reason", "")}
        if action == "assign":
            return {"assignee": data.get("assignee")}
        return {}

    def add_service_error(self, exc: TriageError) -> None:
        field = exc.field if exc.field in self.fields else None
        self.add_error(field, exc.message if field else str(exc))


class BulkTriageForm(TriageForm):
    """The same action on the findings ticked in the list (`ids`), then back to the list."""

    ids = forms.TypedMultipleChoiceField(coerce=int, choices=(), required=True)
    back = forms.CharField(required=False, max_length=4000)  # the list's query string

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Any whole numbers: ids that are no finding (any more) are simply not changed.
        raw = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        self.fields["ids"].choices = [
            (v, v) for v in raw if v.isascii() and v.isdigit() and len(v) < 19
        ][:MAX_BULK]
        self.fields["ids"].error_messages["required"] = "Tick at least one finding."
