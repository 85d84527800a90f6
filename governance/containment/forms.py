"""The confirm forms: a revocation (and its undo) needs the Admin's reason, recorded with it."""

from __future__ import annotations

from django import forms

REASON_REQUIRED = "Reason is required: say why, it is recorded with the revocation."


class ReasonForm(forms.Form):
    """The one field of a confirm page: why (required, whitespace alone is not a reason)."""

    reason = forms.CharField(
        label="Reason",
        max_length=2000,
        strip=True,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 70}),
        error_messages={"required": REASON_REQUIRED},
        help_text="Recorded in the admin actions and the audit chain, e.g. "
        '"laptop stolen, ticket SEC-123".',
    )
