"""The confirm forms: a revocation (and its undo) needs the Admin's reason, recorded with it; a
grant's revocation may also take token values the Admin holds (revoked by value, introspected
as proof, never shown again)."""

from __future__ import annotations

from django import forms

REASON_REQUIRED = "Reason is required: say why, it is recorded with the revocation."


class SecretTextarea(forms.Textarea):
    """A textarea that never renders its value back (a refused form must not echo a token)."""

    def format_value(self, value):
        return None


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

    def add_service_error(self, exc: ValueError) -> None:
        """A service's ValueError ("tokens: ...", "reason: ...") under the field it names."""
        field, sep, message = str(exc).partition(": ")
        if sep and field in self.fields:
            self.add_error(field, message)
        else:
            self.add_error(None, str(exc))


class GrantRevokeForm(ReasonForm):
    """Revoke one grant: the reason, and optionally token values of it the Admin holds."""

    tokens = forms.CharField(
        label="Token values you hold (optional)",
        required=False,
        widget=SecretTextarea(attrs={"rows": 2, "cols": 70, "autocomplete": "off"}),
        help_text="One per line: each is revoked by value (RFC 7009) and introspected as proof "
        "(RFC 7662). Stored encrypted for the run, shown by its first 6 characters only.",
    )

    def token_list(self) -> list[str]:
        return [t.strip() for t in self.cleaned_data.get("tokens", "").splitlines() if t.strip()]
