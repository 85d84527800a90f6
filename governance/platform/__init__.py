"""The platform: infrastructure every app may import, and the processes that run the console.

It imports no domain code (no inventory, audit or governance domain models or services), so any
app can build on it without an import cycle.

- jobs.py: the one job engine (jobs are rows: claim, heartbeat, progress, sweeper);
- progress_bars.py: terminal progress bars for a job a management command runs inline;
- tasks.py: the engine's Celery task (the sweeper, for every job kind);
- middleware.py: request checks for every view (NUL in the query string, CSP, no-store);
- health.py: /healthz, database and broker reachability;
- launcher.py: `make run` (`python -m governance.platform.launcher`): all of it in one command;
- webserver.py: the production web server (Granian), `python -m governance.platform.webserver`;
- devdb.py: the embedded PostgreSQL of `make run` and `make test` (importable without Django);
- localfiles.py: generated secrets and local folders, made before Django reads its settings.

A new job kind: see jobs.py's docstring.
"""
