"""One settings module, configured by environment variables (see README: Configuration).

Defaults make `make run` and `make test` work on a fresh checkout: embedded PostgreSQL on a
unix socket under ./var, a filesystem Celery broker under ./var, a generated secret key and
encryption key kept under ./var. Production sets DATABASE_URL, CELERY_BROKER_URL, SECRET_KEY,
FIELD_ENCRYPTION_KEY and ALLOWED_HOSTS.

Importing this module writes nothing: the generated keys and the folders it names are made by
governance.platform.localfiles.ensure(), which manage.py and the test bootstrap call first.
"""

import datetime
import json
import os
from pathlib import Path

import dj_database_url

from governance.platform import localfiles
from governance.platform.devdb import DEFAULT_PGDATA, socket_dir

BASE_DIR = localfiles.BASE_DIR
VAR_DIR = localfiles.var_dir()


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")
# From the environment, else generated once under VAR_DIR (localfiles.ensure; dev only).
SECRET_KEY = localfiles.read_secret("SECRET_KEY")
# Fernet key(s) for secrets at rest (IdP credentials...). Comma-separated: first encrypts,
# all decrypt, so keys can be rotated.
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEY") or [
    key for key in [localfiles.read_secret("FIELD_ENCRYPTION_KEY")] if key
]
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    # First: its createsuperuser/changepassword/axes_reset_* commands wrap the stock ones so those
    # changes are recorded as admin actions (the first app listed wins a command's name).
    "governance",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files for the API docs page, served locally
    "django_htmx",
    "inventory",
    "audit",
    "axes",  # login lockouts (settings LOGIN_* below)
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "governance.platform.middleware.RefuseNulInQueryStringMiddleware",
    "governance.platform.middleware.SecurityHeadersMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "governance.access.roles.LoginRequiredEverywhereMiddleware",
    # After AuthenticationMiddleware, last (axes' advice): turns a lockout into its 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "governance.urls"
WSGI_APPLICATION = "governance.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "governance.access.roles.role_context",
            ],
            # governance.idp is a package of the governance app, not an app: its tag library is
            # registered here so inventory's templates can `{% load idp %}`.
            "libraries": {
                "idp": "governance.idp.templatetags.idp",
                # Links from inventory's task and flag rows to the revocation that caused them.
                "containment_links": "governance.containment.templatetags.containment_links",
                "containment": "governance.containment.templatetags.containment",
            },
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Without DATABASE_URL: the embedded cluster started by `make run` / `make test` (unix socket).
EMBEDDED_DB_NAME = os.environ.get("EMBEDDED_DB_NAME", "mcpgov")
EMBEDDED_PGDATA = None  # set below when the embedded cluster is in use
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
else:
    EMBEDDED_PGDATA = Path(os.environ.get("PGDATA_DIR", DEFAULT_PGDATA)).resolve()
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": EMBEDDED_DB_NAME,
            "USER": "postgres",
            "HOST": str(socket_dir(EMBEDDED_PGDATA)),
        }
    }
# Persistent connections: a new connection per request costs ~6x on the ingest path.
DATABASES["default"]["CONN_MAX_AGE"] = int(os.environ.get("DB_CONN_MAX_AGE", "300"))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# axes first: it refuses a locked-out username or address before any password is checked.
# LocalPasswordBackend is Django's ModelBackend that refuses passwords when LOCAL_LOGIN_ENABLED
# is off; company sign-in (governance/sso) logs users in through it too, without a password.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "governance.access.backends.LocalPasswordBackend",
]
# Brute-force protection (django-axes): LOGIN_FAILURE_LIMIT failed logins for one username, or
# from one address, lock that username / address out for LOGIN_COOLOFF_MINUTES (each further
# failure restarts it), or until an Admin unlocks it on the users page. Login form, Django admin
# and the API's Basic auth all count. The address is REMOTE_ADDR (behind a proxy, the proxy must
# pass the client's address through as the peer address, or set LOGIN_LOCKOUT_PARAMETERS=username).
AXES_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = datetime.timedelta(minutes=float(os.environ.get("LOGIN_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = env_list("LOGIN_LOCKOUT_PARAMETERS", "username,ip_address")
AXES_RESET_ON_SUCCESS = True  # a good login forgets that user's earlier typos
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_HTTP_RESPONSE_CODE = 429
AXES_ENABLE_ADMIN = False  # lockouts are shown and lifted on the console's users page (recorded)
# --- Company sign-in (OIDC, governance/sso; README: Company sign-in) ---------------------------
# Off while OIDC_ISSUER is unset. Endpoints come from the issuer's discovery document, fetched
# once per process through the safe fetcher (FETCH_ALLOWLIST for an IdP on a private address).
OIDC_ISSUER = os.environ.get("OIDC_ISSUER", "")
OIDC_CLIENT_ID = os.environ.get("OIDC_CLIENT_ID", "")
OIDC_CLIENT_SECRET = os.environ.get("OIDC_CLIENT_SECRET", "")
if not OIDC_CLIENT_SECRET and os.environ.get("OIDC_CLIENT_SECRET_FILE"):
    # A mounted secret (Docker, Kubernetes) rather than an environment variable.
    OIDC_CLIENT_SECRET = Path(os.environ["OIDC_CLIENT_SECRET_FILE"]).read_text().strip()
OIDC_SCOPES = os.environ.get("OIDC_SCOPES", "openid email profile")
OIDC_PROVIDER_NAME = os.environ.get("OIDC_PROVIDER_NAME", "company SSO")  # "Sign in with ..."
# The claim holding the user's groups, and which group gives which role ("*" = anyone).
OIDC_ROLE_CLAIM = os.environ.get("OIDC_ROLE_CLAIM", "groups")
OIDC_ROLE_MAP = os.environ.get("OIDC_ROLE_MAP", "")
# The Content-Security-Policy's form-action admits the issuer's origin when sign-in is on (the
# sign-in and sign-out forms redirect there); list here the origins of an IdP whose
# authorization or end-session endpoint lives on another origin (comma-separated).
OIDC_FORM_ACTION_ORIGINS = [
    o.strip() for o in os.environ.get("OIDC_FORM_ACTION_ORIGINS", "").split(",") if o.strip()
]
# Off: the login page shows no password form and every password login (superusers' too, the
# Django admin's too) is refused. Break glass: set it back to 1 and restart.
LOCAL_LOGIN_ENABLED = env_bool("LOCAL_LOGIN_ENABLED", True)

LOGIN_URL = "governance:account_login"
LOGIN_REDIRECT_URL = "governance:overview"
LOGOUT_REDIRECT_URL = "governance:account_login"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES")
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES")
SECURE_CONTENT_TYPE_NOSNIFF = True
# HSTS on HTTPS responses (0 = off: only turn it on once the console is served over HTTPS for
# good, browsers then refuse plain HTTP for that long).
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS") or 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS")
X_FRAME_OPTIONS = "DENY"
# Sent on every response (governance/platform/middleware.py). Scripts and styles only from the
# console's own origin: no inline script, no eval (docs/ui.md: Content-Security-Policy). Empty =
# not sent.
# No 'unsafe-inline' for styles either: plotly.js adds two <style> elements, allowed by hash
# alone: an empty one it then fills through CSSOM (which CSP does not restrict), and its
# bundled map stylesheet (re-hash it when upgrading plotly; tests/governance/test_csp.py's
# Chromium test fails on a CSP error).
PLOTLY_STYLE_HASHES = (
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
    "'sha256-ji27qzEtxXZW+7dun6UwjHXJ18e6WAin1VvNtkzIE/o='",
)
CONTENT_SECURITY_POLICY = os.environ.get(
    "CONTENT_SECURITY_POLICY",
    "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            " ".join(["style-src 'self'", *PLOTLY_STYLE_HASHES]),
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    ),
)
if os.environ.get("SECURE_PROXY_SSL_HEADER"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

# --- Static files: served by whitenoise, nothing from a CDN ---------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# plotly.js is vendored in static/vendor/plotly/ as its "basic" partial bundle (bar, pie and
# scatter: the only trace types governance/access/charts.py draws), 1.2 MB instead of the 4.8 MB
# full bundle the plotly wheel ships, with a gzipped copy beside it that whitenoise serves to
# browsers that accept gzip (395 kB). docs/ui.md says how to upgrade it.
STATICFILES_DIRS = [BASE_DIR / "static"]
# `collectstatic` (README: production) writes a gzipped copy beside every file, which whitenoise
# sends to browsers that accept gzip; STATIC_COLLECTED=1 serves those collected files. Without it
# (`make run`, tests) files come straight from their source folders, no collectstatic needed
# (whitenoise would prefer a source file over a collected one): plotly.js, the one big file, has
# its gzipped copy there too.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = not env_bool("STATIC_COLLECTED")
# /favicon.ico, which browsers ask for on pages that link none (the browsable API, the admin):
# a 404 there is a console error on every such page.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"

# --- REST API -------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Bearer first: a request that presents a token gets the token's (capped) role even
        # when it also carries a session. No Basic auth: the API never takes a password.
        "governance.access.api_tokens.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["governance.access.roles.IsViewer"],
    "DEFAULT_PAGINATION_CLASS": "governance.access.lists.pagination.StrictLimitOffsetPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "governance.access.lists.schema.ConsoleAutoSchema",
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}
# API tokens (Governance -> API tokens): lifetime when none is asked for, and the longest allowed.
API_TOKEN_DEFAULT_DAYS = int(os.environ.get("API_TOKEN_DEFAULT_DAYS") or 90)
API_TOKEN_MAX_DAYS = int(os.environ.get("API_TOKEN_MAX_DAYS") or 365)
SPECTACULAR_SETTINGS = {
    "TITLE": "MCP Governance Console API",
    "DESCRIPTION": "Inventory, audit and governance of MCP clients, servers, grants and tasks.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",  # no CDN: drf-spectacular-sidecar's copy, through /static/
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # No badge from the public validator.swagger.io: the docs page talks to this console only.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # Every job kind (crawls, IdP syncs) shares one status set: one enum, named for it.
    "ENUM_NAME_OVERRIDES": {
        "JobStatusEnum": "governance.platform.jobs.Job.Status",
        # A revocation's action, and the actions an Admin may start (undo starts elsewhere).
        "RevocationActionEnum": "governance.containment.models.Revocation.Action",
        "StartableActionEnum": "governance.containment.targets.STARTABLE_CHOICES",
        # Findings, review campaigns, alert destinations and reports each have a status or kind.
        "FindingStatusEnum": "inventory.models.findings.Finding.Status",
        "CampaignStatusEnum": "governance.reviews.models.Campaign.Status",
        "DestinationKindEnum": "governance.alerts.models.Destination.Kind",
        "ReportKindEnum": "governance.reports.models.ReportKind",
    },
}

# --- Celery ---------------------------------------------------------------------------------
# Default broker needs no server: kombu's filesystem transport under ./var/broker.
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}  # Celery's default; localfiles.ensure reads it
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True  # jobs are rows; results live in the database
CELERY_TASK_ACKS_LATE = True  # a worker crash redelivers; tasks are safe to run twice
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {}  # each app's entries are added in its section below
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER")
# The queue every task goes to and the workers read: deployments (or test runs) that share one
# broker keep apart by giving each its own name.
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_QUEUE", "celery")

# --- Logging: never log secrets (tokens are redacted before they reach a logger) -------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # httpx logs every request at INFO; the fetch log (FetchRecord) already records each one.
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        # axes logs every login at INFO; failures and lockouts are WARNING.
        "axes": {"level": "WARNING"},
        # Authlib logs each sign-in's PKCE code_verifier at DEBUG.
        "authlib": {"level": "INFO"},
    },
}

# --- Audit ingestion (docs/ingest.md) -------------------------------------------------------
AUDIT_MAX_EVENTS_PER_REQUEST = int(os.environ.get("AUDIT_MAX_EVENTS_PER_REQUEST", "10000"))
AUDIT_MAX_REQUEST_BYTES = int(os.environ.get("AUDIT_MAX_REQUEST_BYTES", str(16 * 1024 * 1024)))
# How long a request body may take to arrive, from the request's start (408 after; 0 = no limit).
# Applies to every endpoint: no WSGI server we run under bounds it, so a client that trickles
# or stalls its body would hold a request thread forever. 30 s is 4.5 Mbit/s for a 16 MB batch.
AUDIT_BODY_READ_TIMEOUT_SECONDS = float(os.environ.get("AUDIT_BODY_READ_TIMEOUT_SECONDS", "30"))
AUDIT_MAX_EVENT_BYTES = int(os.environ.get("AUDIT_MAX_EVENT_BYTES", str(256 * 1024)))
# Small batches arriving together in one (threaded) web process share one database call and
# durable commit (audit/services/group_commit.py); off = one call per request.
AUDIT_GROUP_COMMIT = env_bool("AUDIT_GROUP_COMMIT", True)
# How many groups one web process may be storing at the same time (more than one only while
# groups are small, i.e. at low concurrency; see audit/services/group_commit.py).
AUDIT_GROUP_COMMIT_FLUSHERS = int(os.environ.get("AUDIT_GROUP_COMMIT_FLUSHERS", "2"))
# Record MCP protocol features (negotiated revisions, capabilities, extensions, URL-mode
# elicitations, sampling with tools) from the events that carry them (docs/events.md); off
# only to measure what it costs (bench/ingest.py --protocol-off).
AUDIT_PROTOCOL_EXTRACTION = env_bool("AUDIT_PROTOCOL_EXTRACTION", True)
# Events older than this are refused (field `time`); it is also how long dedup keys are kept,
# so a retry is recognised for as long as it could be accepted.
AUDIT_MAX_EVENT_AGE_DAYS = int(os.environ.get("AUDIT_MAX_EVENT_AGE_DAYS", "400"))
AUDIT_MAX_CLOCK_SKEW_SECONDS = int(os.environ.get("AUDIT_MAX_CLOCK_SKEW_SECONDS", "900"))
# An event later than a revocation (of its grant, client or identity) by more than this many
# seconds raises the high "used after revocation" flag (inventory/services/derive_revoked.py):
# gateways' clocks differ, and an in-flight call stamped just before the cut proves nothing.
CONTAINMENT_CLOCK_SKEW_SECONDS = int(os.environ.get("CONTAINMENT_CLOCK_SKEW_SECONDS", "60"))
# Requests per minute per source when the source sets none; 0 disables the limit.
AUDIT_DEFAULT_RATE_LIMIT_PER_MINUTE = int(
    os.environ.get("AUDIT_DEFAULT_RATE_LIMIT_PER_MINUTE", "120000")
)
AUDIT_PARTITIONS_AHEAD_MONTHS = int(os.environ.get("AUDIT_PARTITIONS_AHEAD_MONTHS", "2"))
# Redaction: extra sensitive key names (comma-separated) and extra value regexes (one per line).
AUDIT_REDACTION_EXTRA_KEYS = env_list("AUDIT_REDACTION_EXTRA_KEYS")
AUDIT_REDACTION_EXTRA_PATTERNS = [
    p for p in os.environ.get("AUDIT_REDACTION_EXTRA_PATTERNS", "").splitlines() if p.strip()
]
AUDIT_REDACTION_DISABLED_RULES = env_list("AUDIT_REDACTION_DISABLED_RULES")
CELERY_BEAT_SCHEDULE.update(
    {
        "audit-ensure-partitions": {"task": "audit.tasks.ensure_partitions", "schedule": 3600.0},
        "audit-seal-chain": {"task": "audit.tasks.seal_chain", "schedule": 10.0},
        "audit-apply-retention": {"task": "audit.tasks.apply_retention", "schedule": 6 * 3600.0},
    }
)
# A full integrity-chain verification on a schedule, so the audit page always shows a recent
# result even if nobody presses "verify now" (0 turns it off).
AUDIT_VERIFY_INTERVAL_SECONDS = float(os.environ.get("AUDIT_VERIFY_INTERVAL_SECONDS", "86400"))
if AUDIT_VERIFY_INTERVAL_SECONDS > 0:
    CELERY_BEAT_SCHEDULE["audit-verify-chain"] = {
        "task": "audit.tasks.verify_audit_chain",
        "schedule": AUDIT_VERIFY_INTERVAL_SECONDS,
    }

# --- Discovery crawls -----------------------------------------------------------------------
# Beat schedule (intervals in seconds). The registry tick only queues crawls of registries
# whose own crawl_interval_minutes (60 by default) has elapsed; the CIMD tick looks for due
# documents and sweeps only when one is due.
CELERY_BEAT_SCHEDULE.update(
    {
        "crawl-due-registries": {
            "task": "inventory.crawl_due_registries",
            "schedule": float(os.environ.get("REGISTRY_CRAWL_TICK_SECONDS", 15 * 60)),
        },
        "crawl-cimd-documents": {
            "task": "inventory.crawl_cimd_documents",
            "schedule": float(os.environ.get("CIMD_CRAWL_INTERVAL_SECONDS", 15 * 60)),
        },
        "crawl-oauth-metadata": {
            "task": "inventory.crawl_oauth_metadata",
            "schedule": float(
                os.environ.get("OAUTH_METADATA_CRAWL_INTERVAL_SECONDS", 24 * 60 * 60)
            ),
        },
        # Recovers jobs of every kind (crawls today), see governance/platform/jobs.py.
        "sweep-jobs": {
            "task": "platform.sweep_jobs",
            "schedule": float(os.environ.get("CRAWL_SWEEP_INTERVAL_SECONDS", 5 * 60)),
        },
        # Flags tasks still running after their TTL and closes the flags of those that ended.
        "flag-tasks-past-ttl": {
            "task": "inventory.flag_tasks_past_ttl",
            "schedule": float(os.environ.get("TASK_EXPIRY_SWEEP_INTERVAL_SECONDS", 60)),
        },
    }
)
# The job sweeper resends a queued job's (e.g. a crawl's) message after this long, and re-queues
# (up to CRAWL_MAX_ATTEMPTS runs) a running job whose heartbeat has been silent this long. A
# running job beats every CRAWL_HEARTBEAT_SECONDS. The engine reads these, and only these.
CRAWL_RESEND_AFTER_MINUTES = int(os.environ.get("CRAWL_RESEND_AFTER_MINUTES", "10"))
CRAWL_HEARTBEAT_TIMEOUT_MINUTES = int(os.environ.get("CRAWL_HEARTBEAT_TIMEOUT_MINUTES", "10"))
CRAWL_MAX_ATTEMPTS = int(os.environ.get("CRAWL_MAX_ATTEMPTS", "3"))
CRAWL_HEARTBEAT_SECONDS = float(os.environ.get("CRAWL_HEARTBEAT_SECONDS", "30"))
# Longest wait a registry's Retry-After can impose before the next try.
REGISTRY_MAX_RETRY_WAIT_SECONDS = float(os.environ.get("REGISTRY_MAX_RETRY_WAIT_SECONDS", "60"))
# Tries of one registry page within a crawl (timeouts, connection errors, 5xx, 429).
REGISTRY_FETCH_ATTEMPTS = int(os.environ.get("REGISTRY_FETCH_ATTEMPTS", "5"))
# An incremental crawl asks for servers updated since the last successful crawl minus this, so
# a registry clock a little behind ours loses no update.
REGISTRY_UPDATED_SINCE_OVERLAP_SECONDS = int(
    os.environ.get("REGISTRY_UPDATED_SINCE_OVERLAP_SECONDS", "120")
)
# JSON {"npm": ["https://..."], ...}: the package base URLs the official registry accepts.
# Unset: the list in inventory/registry_entries.py (npm and PyPI there are placeholders; set
# them here).
REGISTRY_PACKAGE_BASE_URLS = (
    json.loads(os.environ["REGISTRY_PACKAGE_BASE_URLS"])
    if os.environ.get("REGISTRY_PACKAGE_BASE_URLS")
    else None
)

# --- IdP syncs -----------------------------------------------------------------------------
# Beat ticks every IDP_SYNC_TICK_SECONDS and starts a sync of each enabled connection whose own
# sync_interval_minutes has elapsed. A sync writes IDP_SYNC_PAGE_SIZE records per statement;
# each IdP GET is tried IDP_SYNC_ATTEMPTS times on 5xx/429/timeouts, waiting
# IDP_SYNC_BACKOFF_SECONDS doubled each time (or the IdP's Retry-After), never more than
# IDP_SYNC_MAX_WAIT_SECONDS at once: the defaults ride out about a minute of outage.
CELERY_BEAT_SCHEDULE["start-due-idp-syncs"] = {
    "task": "governance.start_due_idp_syncs",
    "schedule": float(os.environ.get("IDP_SYNC_TICK_SECONDS", 5 * 60)),
}
IDP_SYNC_PAGE_SIZE = int(os.environ.get("IDP_SYNC_PAGE_SIZE", "500"))
IDP_SYNC_ATTEMPTS = int(os.environ.get("IDP_SYNC_ATTEMPTS", "7"))
IDP_SYNC_BACKOFF_SECONDS = float(os.environ.get("IDP_SYNC_BACKOFF_SECONDS", "1"))
IDP_SYNC_MAX_WAIT_SECONDS = float(os.environ.get("IDP_SYNC_MAX_WAIT_SECONDS", "120"))

# --- Revocations (containment) --------------------------------------------------------------
# Each IdP call of a revocation is tried up to CONTAINMENT_STEP_MAX_ATTEMPTS times on 429, 5xx
# and timeouts, waiting CONTAINMENT_RETRY_BASE_SECONDS doubled each time (or the IdP's own
# Retry-After / rate-limit reset), never more than CONTAINMENT_RETRY_MAX_WAIT_SECONDS at once
# nor CONTAINMENT_RETRY_BUDGET_SECONDS in all: the defaults ride out a 30 s outage. Calls are
# paced per connection (its `revoke_rate_per_second`, else CONTAINMENT_RATE_PER_SECOND); a
# verification that reads "not yet" is read again CONTAINMENT_VERIFY_ATTEMPTS times in all.
CONTAINMENT_STEP_MAX_ATTEMPTS = int(os.environ.get("CONTAINMENT_STEP_MAX_ATTEMPTS", "8"))
CONTAINMENT_RETRY_BASE_SECONDS = float(os.environ.get("CONTAINMENT_RETRY_BASE_SECONDS", "1"))
CONTAINMENT_RETRY_MAX_WAIT_SECONDS = float(
    os.environ.get("CONTAINMENT_RETRY_MAX_WAIT_SECONDS", "30")
)
CONTAINMENT_RETRY_BUDGET_SECONDS = float(os.environ.get("CONTAINMENT_RETRY_BUDGET_SECONDS", "120"))
CONTAINMENT_RATE_PER_SECOND = float(os.environ.get("CONTAINMENT_RATE_PER_SECOND", "10"))
CONTAINMENT_VERIFY_ATTEMPTS = int(os.environ.get("CONTAINMENT_VERIFY_ATTEMPTS", "6"))

# --- Outbound fetches (CIMD documents, OAuth metadata, registries) ---------------------------
# Every crawler goes through inventory.fetch.safe_fetch: HTTPS only and public addresses only,
# except for these hosts (names, IPs or CIDRs), which may use plain HTTP and private addresses.
# Labs and tests set it (e.g. FETCH_ALLOWLIST=127.0.0.1); production normally leaves it empty.
# Cloud metadata addresses (169.254.169.254, fd00:ec2::254...) stay refused even when listed.
FETCH_ALLOWLIST = env_list("FETCH_ALLOWLIST")
# Extra CA certificates the fetcher trusts beside the bundled ones (a PEM file, or a directory of
# .pem/.crt files): for registries and IdPs behind a company CA. Empty: the bundled CAs only.
FETCH_EXTRA_CA_CERTS = os.environ.get("FETCH_EXTRA_CA_CERTS", "")
CONSOLE_VERSION = os.environ.get("CONSOLE_VERSION", "0.1.0")
FETCH_USER_AGENT = f"MCPGovernanceConsole/{CONSOLE_VERSION} (+metadata crawler)"
# CIMD re-fetch follows Cache-Control max-age within these bounds (seconds); no header → max.
CIMD_REFRESH_MIN_SECONDS = int(os.environ.get("CIMD_REFRESH_MIN_SECONDS", "300"))
CIMD_REFRESH_MAX_SECONDS = int(os.environ.get("CIMD_REFRESH_MAX_SECONDS", "86400"))
# CIMD draft recommends 5 KB as the maximum document size.
CIMD_MAX_BYTES = int(os.environ.get("CIMD_MAX_BYTES", "5120"))
# Total seconds one CIMD / OAuth-metadata fetch may take, slow drips included.
DISCOVERY_FETCH_TIMEOUT = float(os.environ.get("DISCOVERY_FETCH_TIMEOUT", "10"))
# Worker threads fetching CIMD documents / OAuth metadata in one crawl job.
CIMD_CRAWL_CONCURRENCY = int(os.environ.get("CIMD_CRAWL_CONCURRENCY", "20"))
OAUTH_DISCOVERY_CONCURRENCY = int(os.environ.get("OAUTH_DISCOVERY_CONCURRENCY", "8"))
# Fetch log rows older than this are pruned by the daily CIMD sweep.
FETCH_LOG_RETENTION_DAYS = int(os.environ.get("FETCH_LOG_RETENTION_DAYS", "30"))

# --- OTLP ingestion (/v1/traces, /v1/logs; docs/otlp.md) ------------------------------------
# Bytes on the wire, and after gzip inflation (a gzip bomb stops at the second cap).
# Sized for what SDKs and the Collector send: the Collector's batch processor keeps exports
# well under a megabyte; the Python SDK refuses to send more than 64 MiB uncompressed.
OTLP_MAX_BODY_BYTES = int(os.environ.get("OTLP_MAX_BODY_BYTES", 8 * 1024 * 1024))
OTLP_MAX_DECODED_BYTES = int(os.environ.get("OTLP_MAX_DECODED_BYTES", 32 * 1024 * 1024))

# --- Email (alerts, access-review reminders, scheduled reports) -----------------------------
# Plain SMTP from the environment; nothing is sent until EMAIL_HOST is set (the console says so
# where email is offered). EMAIL_HOST_PASSWORD is read from the environment, never stored.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS")
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL")
EMAIL_TIMEOUT = float(os.environ.get("EMAIL_TIMEOUT", "10"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "mcp-governance@localhost")
# The console's own address, for links in emails (e.g. https://governance.example.com).
CONSOLE_BASE_URL = os.environ.get("CONSOLE_BASE_URL", "http://127.0.0.1:8000")

# --- Findings (issue 14; docs/findings.md) ---------------------------------------------------
# The scheduled rules (inventory and rollup rules, auto-resolution, ends of suppressions) run
# every FINDINGS_RULES_INTERVAL_SECONDS. FINDINGS_EVENT_RULES turns the ingest-path rules off
# (only to measure what they cost: bench/ingest.py --rules-off).
FINDINGS_RULES_INTERVAL_SECONDS = float(os.environ.get("FINDINGS_RULES_INTERVAL_SECONDS", "300"))
FINDINGS_EVENT_RULES = env_bool("FINDINGS_EVENT_RULES", True)
CELERY_BEAT_SCHEDULE["findings-run-rules"] = {
    "task": "governance.findings.tasks.run_rules",
    "schedule": FINDINGS_RULES_INTERVAL_SECONDS,
}

# --- Alert delivery and event forwarding (issue 14; docs/alerts.md) --------------------------
ALERTS_DISPATCH_INTERVAL_SECONDS = float(os.environ.get("ALERTS_DISPATCH_INTERVAL_SECONDS", "1"))
ALERTS_FORWARD_INTERVAL_SECONDS = float(os.environ.get("ALERTS_FORWARD_INTERVAL_SECONDS", "2"))
DELIVERY_MAX_ATTEMPTS = int(os.environ.get("DELIVERY_MAX_ATTEMPTS", "12"))
DELIVERY_BACKOFF_BASE_SECONDS = float(os.environ.get("DELIVERY_BACKOFF_BASE_SECONDS", "2"))
DELIVERY_BACKOFF_MAX_SECONDS = float(os.environ.get("DELIVERY_BACKOFF_MAX_SECONDS", "600"))
DELIVERY_CLAIM_TIMEOUT_SECONDS = float(os.environ.get("DELIVERY_CLAIM_TIMEOUT_SECONDS", "60"))
FORWARD_BATCH_EVENTS = int(os.environ.get("FORWARD_BATCH_EVENTS", "5000"))
# `expires`: a beat sent while no worker runs is dropped, not replayed in a pile at start.
CELERY_BEAT_SCHEDULE.update(
    {
        "alerts-dispatch": {
            "task": "governance.alerts.tasks.dispatch",
            "schedule": ALERTS_DISPATCH_INTERVAL_SECONDS,
            "options": {"expires": max(5.0, 5 * ALERTS_DISPATCH_INTERVAL_SECONDS)},
        },
        "alerts-forward": {
            "task": "governance.alerts.tasks.forward_tick",
            "schedule": ALERTS_FORWARD_INTERVAL_SECONDS,
            "options": {"expires": max(5.0, 5 * ALERTS_FORWARD_INTERVAL_SECONDS)},
        },
    }
)

# --- Access reviews and reports (issue 16; docs/compliance.md) -------------------------------
REPORTS_DIR = Path(os.environ.get("REPORTS_DIR", str(VAR_DIR / "reports")))
REPORTS_KEEP_DAYS = int(os.environ.get("REPORTS_KEEP_DAYS", "400"))
REVIEWS_REMINDER_TICK_SECONDS = float(os.environ.get("REVIEWS_REMINDER_TICK_SECONDS", "3600"))
REPORTS_SCHEDULE_TICK_SECONDS = float(os.environ.get("REPORTS_SCHEDULE_TICK_SECONDS", "900"))
# Beat: reminder emails (each campaign's marks are days, so an hourly tick is on time) and the
# sweeper that closes a campaign whose revocations ended if its own polling task was lost.
CELERY_BEAT_SCHEDULE.update(
    {
        "reviews-send-reminders": {
            "task": "governance.reviews.send_reminders",
            "schedule": REVIEWS_REMINDER_TICK_SECONDS,
        },
        "reviews-finish-closing": {
            "task": "governance.reviews.finish_closing_all",
            "schedule": float(os.environ.get("REVIEWS_CLOSING_SWEEP_SECONDS", "300")),
        },
    }
)
# A scheduled report's email attaches files up to this size; larger ones get a link instead.
REPORTS_EMAIL_ATTACH_MAX_BYTES = int(os.environ.get("REPORTS_EMAIL_ATTACH_MAX_BYTES", 5 * 1024**2))
CELERY_BEAT_SCHEDULE["reports-tick-schedules"] = {
    "task": "reports.tick_schedules",
    "schedule": REPORTS_SCHEDULE_TICK_SECONDS,
}
CELERY_BEAT_SCHEDULE["reports-sweep-expired"] = {
    "task": "reports.sweep_expired",
    "schedule": 3600.0,
}
