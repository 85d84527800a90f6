"""The project package: config at the root, then three packages with one question each.

- Root: project config only: settings.py, urls.py (+ urls_ui.py, the governance pages),
  celery.py, wsgi.py, apps.py, models.py (imports for Django's discovery), admin.py
  (registrations), api_docs.py (the API's docs page and root), migrations/, management/.
- access/: the shared layer every app imports (admin-action records, roles, API tokens, lists,
  htmx, charts); it imports no app code.
- platform/: infrastructure and processes (job engine, middleware, launcher, web server,
  embedded database); it imports no app code either.
- overview/ (and the domain packages to come beside it): governance's domain.
"""

from governance.celery import app as celery_app

__all__ = ["celery_app"]
