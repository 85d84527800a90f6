"""The new-campaign form (Admins) and the decision forms of the queue. Field names match the
service's ValidationError keys where they differ only in shape (`clients` ↔ `client_ids`)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from django import forms
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from governance.access.roles import ROLE_ORDER
from governance.idp.models import IdpConnection
from governance.reviews.models import Campaign
from inventory.models import Client, Grant, Server

# Service error key -> form field.
SERVICE_FIELDS = {
    "idp_connection_ids": "idp_connections",
    "client_ids": "clients",
    "server_ids": "servers",
    "grant_types": "grant_types",
    "scopes": "scopes",
    "unused_days": "unused_days",
}


def console_users():
    """Active users who hold a role: the only ones who can open a queue."""
    User = get_user_model()
    return (
        User.objects.filter(is_active=True)
        .filter(Q(is_superuser=True) | Q(groups__name__in=ROLE_ORDER))
        .distinct()
        .order_by("username")
    )


class UserChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.get_username()} ({obj.email})" if obj.email else obj.get_username()


class UsersChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj):
        return UserChoice.label_from_instance(self, obj)


class CampaignForm(forms.Form):
    FIELDSETS = (
        ("Campaign", ("name", "description")),
        (
            "Scope: which grants",
            ("idp_connections", "clients", "servers", "scopes", "grant_types", "unused_days"),
        ),
        (
            "Reviewers and dates",
            ("reviewer_rule", "reviewers", "fallback_reviewer", "due_date", "remind_days_before"),
        ),
    )
    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    idp_connections = forms.ModelMultipleChoiceField(
        IdpConnection.objects.order_by("name"),
        required=False,
        label="IdP connections",
        help_text="Grants from these IdPs (none chosen: every IdP).",
    )
    clients = forms.ModelMultipleChoiceField(
        Client.objects.order_by("name", "client_id"), required=False
    )
    servers = forms.ModelMultipleChoiceField(
        Server.objects.order_by("name"), required=False, label="Servers"
    )
    scopes = forms.CharField(
        required=False, help_text="Grants holding any of these scopes (space or comma separated)."
    )
    grant_types = forms.MultipleChoiceField(
        choices=Grant.GrantType.choices, required=False, widget=forms.CheckboxSelectMultiple
    )
    unused_days = forms.IntegerField(
        required=False, min_value=1, max_value=100_000, label="Unused for at least (days)"
    )
    reviewer_rule = forms.ChoiceField(
        choices=Campaign.ReviewerRule.choices,
        label="Who reviews",
        help_text="Owners are matched to console users by email; anyone else goes to the "
        "fallback reviewer, or the named reviewers in turn.",
    )
    reviewers = UsersChoice(console_users(), required=False, label="Named reviewers")
    fallback_reviewer = UserChoice(console_users(), required=False)
    due_date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}), label="Due")
    remind_days_before = forms.CharField(
        required=False,
        initial="7, 1",
        label="Remind (days before due)",
        help_text="Email reviewers with pending items this many days before the due date.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Querysets are evaluated per form, not once at import.
        self.fields["reviewers"].queryset = console_users()
        self.fields["fallback_reviewer"].queryset = console_users()
        if not self.is_bound:
            self.initial.setdefault("due_date", (timezone.localdate() + timedelta(days=14)))

    def service_kwargs(self) -> dict:
        data = self.cleaned_data
        due = timezone.make_aware(datetime.combine(data["due_date"], time(23, 59)))
        marks = [m for m in data["remind_days_before"].replace(",", " ").split() if m]
        return {
            "name": data["name"],
            "description": data["description"],
            "scope": {
                "idp_connection_ids": [c.pk for c in data["idp_connections"]],
                "client_ids": [c.pk for c in data["clients"]],
                "server_ids": [s.pk for s in data["servers"]],
                "scopes": data["scopes"],
                "grant_types": data["grant_types"],
                "unused_days": data["unused_days"],
            },
            "reviewer_rule": data["reviewer_rule"],
            "reviewers": list(data["reviewers"]),
            "fallback_reviewer": data["fallback_reviewer"],
            "due_at": due,
            "remind_days_before": marks,
        }

    def add_service_errors(self, exc) -> None:
        """A service ValidationError on the field it names (due_at is the due date)."""
        for key, messages in exc.message_dict.items():
            field = {"due_at": "due_date", **SERVICE_FIELDS}.get(key, key)
            self.add_error(field if field in self.fields else None, messages)


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("keep", "Keep"), ("revoke", "Revoke"), ("reduce", "Reduce scopes")]
    )
    justification = forms.CharField(required=False, max_length=5000)
    keep_scopes = forms.CharField(required=False, help_text="reduce: the scopes to keep")

    def keep_scope_list(self) -> list[str]:
        return self.cleaned_data["keep_scopes"].replace(",", " ").split()


class BulkDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("keep", "Keep"), ("revoke", "Revoke")])
    justification = forms.CharField(required=False, max_length=5000)
