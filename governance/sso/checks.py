"""`manage.py check` (and migrate, which `make run` and deployments run first) refuses a company
sign-in configuration that cannot work, instead of the first sign-in failing."""

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from governance.sso.roles import parse_role_map


@register()
def check_sso_settings(app_configs, **kwargs):
    if not settings.OIDC_ISSUER:
        return []
    errors = []
    if not settings.OIDC_CLIENT_ID or not settings.OIDC_CLIENT_SECRET:
        errors.append(
            Error(
                "OIDC_ISSUER is set but OIDC_CLIENT_ID or OIDC_CLIENT_SECRET(_FILE) is not.",
                id="sso.E001",
            )
        )
    if "openid" not in settings.OIDC_SCOPES.split():
        errors.append(Error("OIDC_SCOPES must include 'openid'.", id="sso.E002"))
    try:
        parse_role_map(settings.OIDC_ROLE_MAP)
    except ImproperlyConfigured as exc:
        errors.append(Error(str(exc), id="sso.E003"))
    return errors
