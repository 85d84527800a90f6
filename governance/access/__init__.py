"""The shared access layer: what every app's services, views and APIs build on.

Every app (inventory, audit, governance's domain packages) may import from here; this package
imports only Django, DRF, their add-ons (axes, htmx, drf-spectacular, plotly) and itself, never
an app's domain code, so nothing here can start an import cycle.

- models.py: AdminAction, SiteSetting, ApiToken (app label `governance`, the same tables);
- records.py: `record_admin_action` (call it inside the service's transaction),
  `acting_from_command`, `model_snapshot`, secret masking;
- roles.py: Viewer < Auditor < Admin: `role_required`, `has_role`, the DRF permissions, the
  login-required middleware, `role_context`;
- services.py: account writes: `set_user_role`, `change_own_password`, `unlock_login`,
  `ensure_role_groups`;
- api_tokens.py: API tokens (create, revoke) and the DRF bearer authentication;
- lockouts.py: login lockouts (django-axes): who is locked out, and the lockout record;
- lists/: one way to declare a list: `ListSpec`, parsing, pagination, declared API parameters;
- htmx.py: `render_fragment_or_page`, `wants_fragment`;
- charts.py: plotly figures as CSP-safe HTML fragments;
- admin.py: `RecordedAdminMixin` and `ReadOnlyAdmin` for every app's Django admin;
- views.py, views_tokens.py, views_account.py: the access pages (users and roles, lockouts,
  the admin-action log; API tokens; one's own password).

New code goes here only when more than one app needs it and it knows no app's models; a rule
about one domain belongs in that app's services.
"""
