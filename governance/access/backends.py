"""The password backend: Django's, refusing every password while local login is turned off."""

from django.conf import settings
from django.contrib.auth.backends import ModelBackend


class LocalPasswordBackend(ModelBackend):
    """ModelBackend, except that LOCAL_LOGIN_ENABLED=false refuses all passwords (superusers'
    too): the console's login form, the Django admin's and anything else calling authenticate().

    Company sign-in (governance/sso) logs its users in through this backend without a password,
    so their sessions are read back by the same get_user()."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if not settings.LOCAL_LOGIN_ENABLED:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
