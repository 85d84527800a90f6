"""The signed-in user's own account: changing their password (any role, or none; staff or not)."""

from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.shortcuts import redirect
from django.urls import reverse_lazy

from governance.access.services import change_own_password


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's form and validators (old password, AUTH_PASSWORD_VALIDATORS, the two fields
    match); the change itself goes through the service that records it."""

    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("governance:password_change_done")

    def form_valid(self, form):
        change_own_password(
            user=self.request.user,
            new_password=form.cleaned_data["new_password1"],
            request=self.request,
        )
        update_session_auth_hash(self.request, self.request.user)  # stay signed in here
        return redirect(self.get_success_url())


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "registration/password_change_done.html"
