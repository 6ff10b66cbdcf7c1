"""Settings shared by every environment. Anything that differs between machines comes
from the environment (see `.env.example`)."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env("SECRET_KEY", default="")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# Proxies (CIDRs) whose X-Forwarded-For is believed; empty trusts nobody
# (accounts/client_address.py).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

INSTALLED_APPS = [
    # The admin with allauth sign-in and required MFA (accounts/admin_site.py).
    "accounts.admin_site.SupportAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "csp",
    "accounts",
    "accounts.webhooks",
    "apikeys",
    "privacy",
    "support",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Cache-Control: private, no-store on API answers, downloads and signed-in pages.
    "console.middleware.PrivateCacheMiddleware",
    # The gateway's verify calls skip everything below (see apikeys/middleware.py).
    "apikeys.keys.middleware.GatewayFastLaneMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # A form body that is not UTF-8 answers 400 before any form reads it.
    "console.middleware.UndecodableFormMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    # allauth's user sessions, recorded at most once a minute per session and client.
    "accounts.middleware.UserSessionActivityMiddleware",
    "accounts.middleware.RequestContextMiddleware",
    "privacy.consent.middleware.ConsentMiddleware",
]

ROOT_URLCONF = "console.urls"
WSGI_APPLICATION = "console.wsgi.application"
ASGI_APPLICATION = "console.asgi.application"

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
                "accounts.context_processors.workspace_nav",
                "privacy.context_processors.privacy",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"CLIENT_CLASS": "django_redis.client.DefaultClient"},
            "KEY_PREFIX": env("CACHE_KEY_PREFIX", default="console"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "console",
        }
    }
# Where verify keeps generations, rate counters and the last-used buffer; empty: the
# default cache above (Redis, or in-process in the embedded mode). May be another
# server, or a Redis Cluster reached through any node: `redis+cluster://host:port`
# (`rediss+cluster://` with TLS). The broker (CELERY_BROKER_URL) is separate again.
VERIFY_REDIS_URL = env("VERIFY_REDIS_URL", default="")

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
]

LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "dashboard"

# django-allauth: email is the login; verification is mandatory; enumeration prevented.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_CHANGE_EMAIL = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = False
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PASSWORD_MIN_LENGTH = 12
ACCOUNT_REAUTHENTICATION_TIMEOUT = 300
# Changing email addresses and MFA needs a fresh password (or MFA) check.
ACCOUNT_REAUTHENTICATION_REQUIRED = True
ACCOUNT_SIGNUP_FORM_CLASS = "accounts.forms.account.SignupDetailsForm"
ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_SESSION_REMEMBER = None
ACCOUNT_RATE_LIMITS = {
    "login": "30/m/ip",
    "login_failed": "10/m/ip,5/300s/key",
    "signup": "10/m/ip",
    "reset_password": "10/m/ip,3/m/key",
    "reset_password_from_key": "20/m/ip",
    "change_password": "5/m/user",
    "manage_email": "10/m/user",
    "reauthenticate": "10/m/user",
    "confirm_email": "1/180s/key",
}
ACCOUNT_EMAIL_SUBJECT_PREFIX = "[Console] "
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_TOTP_ISSUER = "Console"
MFA_REAUTHENTICATION_REQUIRED = True
USERSESSIONS_TRACK_ACTIVITY = True
# Seconds between two records of the same session's activity from the same client.
USERSESSIONS_ACTIVITY_INTERVAL = env.int("USERSESSIONS_ACTIVITY_INTERVAL", default=60)
USERSESSIONS_ADAPTER = "accounts.adapters.UserSessionsAdapter"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))

EMAIL_BACKEND = env("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Console <no-reply@console.localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Only for the file-based backend (django.core.mail.backends.filebased).
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", default=None)
# The outbox (accounts/emails.py): how long a sender holds a row, how long a queued
# message may take before a sweep queues it again, retries, and how long delivered
# messages (which hold one-time links) are kept before the retention job purges them.
EMAIL_OUTBOX_LEASE_SECONDS = env.int("EMAIL_OUTBOX_LEASE_SECONDS", default=300)
EMAIL_OUTBOX_REQUEUE_AFTER_SECONDS = env.int("EMAIL_OUTBOX_REQUEUE_AFTER_SECONDS", default=120)
EMAIL_OUTBOX_BACKOFF_SECONDS = env.int("EMAIL_OUTBOX_BACKOFF_SECONDS", default=30)
EMAIL_OUTBOX_MAX_ATTEMPTS = env.int("EMAIL_OUTBOX_MAX_ATTEMPTS", default=8)
EMAIL_OUTBOX_KEEP_DAYS = env.int("EMAIL_OUTBOX_KEEP_DAYS", default=7)

# Outbound webhooks (accounts/webhooks/, docs/webhooks.md). Receivers must be public
# addresses; these CIDR ranges are admitted besides (on-premises receivers), and only
# they may be reached over plain http://. Checked at registration and every delivery.
WEBHOOK_ALLOWED_PRIVATE_NETWORKS = env.list("WEBHOOK_ALLOWED_PRIVATE_NETWORKS", default=[])
# False: deliver to the admitted private networks only (an installation without egress).
WEBHOOK_DELIVER_TO_PUBLIC_NETWORKS = env.bool("WEBHOOK_DELIVER_TO_PUBLIC_NETWORKS", default=True)
WEBHOOK_CONNECT_TIMEOUT_SECONDS = env.float("WEBHOOK_CONNECT_TIMEOUT_SECONDS", default=5.0)
WEBHOOK_READ_TIMEOUT_SECONDS = env.float("WEBHOOK_READ_TIMEOUT_SECONDS", default=15.0)
# How long a worker holds a message it delivers; after that the sweep hands it on.
WEBHOOK_CLAIM_SECONDS = env.int("WEBHOOK_CLAIM_SECONDS", default=120)
# How long the message started on commit is given before the sweep queues another.
WEBHOOK_REQUEUE_AFTER_SECONDS = env.int("WEBHOOK_REQUEUE_AFTER_SECONDS", default=60)
# An endpoint whose every attempt failed for this long is disabled; owners get an email.
WEBHOOK_DISABLE_AFTER_DAYS = env.int("WEBHOOK_DISABLE_AFTER_DAYS", default=3)
# After a secret rotation the old secret signs beside the new one for this long.
WEBHOOK_SECRET_OVERLAP_HOURS = env.int("WEBHOOK_SECRET_OVERLAP_HOURS", default=24)
# Messages and their delivery log are purged this long after they were recorded.
WEBHOOK_KEEP_DAYS = env.int("WEBHOOK_KEEP_DAYS", default=30)

# Encryption at rest: "kid:base64key,kid2:base64key"; the first entry is the primary key.
ENCRYPTION_KEYS = env("ENCRYPTION_KEYS", default="")
# HMAC-SHA256 keys of the audit chain, same format; the first chains new events, the
# others still verify the events and checkpoints they chained (accounts/audit.py).
AUDIT_CHAIN_KEYS = env("AUDIT_CHAIN_KEYS", default="")
# A checkpoint of the chain's head is also written once this many events follow the last.
AUDIT_CHECKPOINT_EVERY = env.int("AUDIT_CHECKPOINT_EVERY", default=200)

# Celery: Redis in production and tests; a broker that needs no server for `make run`.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = False
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_BROKER_TRANSPORT_OPTIONS = {}
# A queue for each kind of job, so that a long job never sits in front of a short one
# that someone is waiting for (a password-reset email behind an hour-long deletion).
# Production runs a worker pool per queue (deploy/compose.yaml); a worker started
# without -Q (`make run`, the tests) consumes every queue declared here. "celery" is
# the queue every message went to before there were several: the default workers
# drain it too, so nothing queued across an upgrade is stranded.
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = {
    name: {"exchange": name, "routing_key": name}
    for name in ("default", "email", "email-bulk", "usage", "privacy-long", "webhooks", "celery")
}
# Every task names its queue here (tests/console/test_celery.py checks that none is
# forgotten). Beat's messages go through the same routes.
CELERY_TASK_ROUTES = {
    # Mail someone is waiting for: sign-up, password reset, receipts.
    "accounts.outbox_send": {"queue": "email"},
    "accounts.outbox_sweep": {"queue": "email"},
    "accounts.tasks.send_email": {"queue": "email"},
    # Mail to many people at once (policy notices): never in front of the above.
    "accounts.outbox_send_bulk": {"queue": "email-bulk"},
    # Work that grows with the gateway's traffic.
    "apikeys.usage_rollup_recent": {"queue": "usage"},
    "apikeys.usage_rollup_days": {"queue": "usage"},
    "apikeys.last_used_flush": {"queue": "usage"},
    "apikeys.usage_partitions_maintain": {"queue": "usage"},
    # Webhook deliveries wait on other people's servers (up to the read timeout each):
    # never in front of mail or housekeeping.
    "accounts.webhook_deliver": {"queue": "webhooks"},
    # Jobs that run for minutes or hours.
    "privacy.deletion_run": {"queue": "privacy-long"},
    "privacy.retention_run": {"queue": "privacy-long"},
    "privacy.tasks_export.run_export": {"queue": "privacy-long"},
    # Short housekeeping and fan-out; the sweeps must not wait behind the jobs they
    # re-queue.
    "accounts.audit_checkpoint": {"queue": "default"},
    "accounts.webhook_sweep": {"queue": "default"},
    "apikeys.expiry_notices_send": {"queue": "default"},
    "privacy.deletion_sweep": {"queue": "default"},
    "privacy.tasks.policy_notices_dispatch": {"queue": "default"},
    "privacy.tasks.policy_notices_send": {"queue": "default"},
    "privacy.tasks_export.requeue_lost_exports": {"queue": "default"},
    "privacy.tasks_export.expire_exports": {"queue": "default"},
    "privacy.tasks_export.sweep_orphan_files": {"queue": "default"},
    "privacy.tasks_requests.alert_staff_about_deadlines": {"queue": "default"},
    "privacy.processors_remind": {"queue": "default"},
    "support.remind_staff_about_targets": {"queue": "default"},
}
# Where job locks live when the database is SQLite (`make run`: one machine); on
# PostgreSQL they are advisory locks (accounts/jobs.py).
JOB_LOCK_DIR = env("JOB_LOCK_DIR", default=str(BASE_DIR / "var" / "locks"))
# Feature task modules: autodiscovery finds only `<app>.tasks`. Workers import these at
# start-up; web processes when a service first starts a job (accounts/jobs.py).
CELERY_IMPORTS = [
    "accounts.webhooks.tasks",
    "apikeys.keys.tasks",
    "apikeys.usage.tasks",
    "privacy.policies.tasks",
    "privacy.deletion.tasks",
    "privacy.exports.tasks",
    "privacy.requests.tasks",
    "privacy.processors.tasks",
    "privacy.retention.tasks",
    "support.tasks",
]
CELERY_BEAT_SCHEDULE = {
    # The outbox row is the truth: send again what a lost message or dead worker left.
    "email-outbox-sweep": {"task": "accounts.outbox_sweep", "schedule": 60.0},
    # The message row is the truth: retries that are due, lost messages, dead workers.
    "webhook-sweep": {"task": "accounts.webhook_sweep", "schedule": 15.0},
    # The chain's head, in its own table and in the log stream, for an outside record.
    "audit-checkpoint": {"task": "accounts.audit_checkpoint", "schedule": 60.0},
    # Yesterday as well as today: the gateway reports the last minutes of a day late.
    "usage-rollup-recent": {"task": "apikeys.usage_rollup_recent", "schedule": 300.0},
    "api-key-last-used-flush": {"task": "apikeys.last_used_flush", "schedule": 60.0},
    # Usage partitions a week ahead (PostgreSQL); alerts when the default one fills.
    "usage-partitions-maintain": {"task": "apikeys.usage_partitions_maintain", "schedule": 3600.0},
    "api-key-expiry-notices": {"task": "apikeys.expiry_notices_send", "schedule": 3600.0},
    "deletion-sweep": {"task": "privacy.deletion_sweep", "schedule": 60.0},
    "retention-daily": {"task": "privacy.retention_run", "schedule": 86400.0},
    "policy-notices-dispatch": {
        "task": "privacy.tasks.policy_notices_dispatch",
        "schedule": 3600.0,
    },
    # The export row is the truth: re-queue exports whose message or worker was lost.
    "exports-requeue-lost": {
        "task": "privacy.tasks_export.requeue_lost_exports",
        "schedule": 120.0,
    },
    "exports-expire": {"task": "privacy.tasks_export.expire_exports", "schedule": 3600.0},
    # Every export file has an owner row; delete the ones left without (a lost commit,
    # a worker that died between writing and recording).
    "exports-sweep-orphan-files": {
        "task": "privacy.tasks_export.sweep_orphan_files",
        "schedule": 3600.0,
    },
    "privacy-request-deadline-alerts": {
        "task": "privacy.tasks_requests.alert_staff_about_deadlines",
        "schedule": 3600.0,
    },
    # Processors that left a privacy request unanswered past PROCESSOR_REMINDER_AFTER_HOURS.
    "privacy-processor-reminders": {"task": "privacy.processors_remind", "schedule": 3600.0},
    # Before and after a support request misses its first-response or resolution target.
    "support-target-reminders": {"task": "support.remind_staff_about_targets", "schedule": 900.0},
}
# A tick still queued when the next one is due adds nothing: it expires rather than
# run late, so ticks cannot pile up behind a slow run or a stopped worker pool.
for _entry in CELERY_BEAT_SCHEDULE.values():
    _entry.setdefault("options", {}).setdefault("expire_seconds", int(_entry["schedule"]))

# JSON bodies nest at most this deep (accounts/jsonbody.py); ours need a handful of levels.
JSON_MAX_DEPTH = env.int("JSON_MAX_DEPTH", default=32)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        # Management API keys (Bearer cnsl_...), confined to endpoints declaring key_scopes.
        "apikeys.keys.auth.ApiKeyAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # DRF's JSON parser with a depth limit and the body size cap (accounts/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["accounts.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "accounts.rest.Pagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "accounts.rest.exception_handler",
    "DEFAULT_METADATA_CLASS": "console.api_metadata.Metadata",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Throttles count per client address (accounts.throttling); any that still uses DRF's
    # own get_ident sees the peer, never a header the client wrote.
    "NUM_PROXIES": 0,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Console API",
    "DESCRIPTION": "Workspaces, members, invitations, API keys, usage, audit and privacy.\n\n"
    "Every JSON body is refused with 400 when its text holds NUL (U+0000) or a lone "
    "surrogate, which no string here may carry, or when it nests more than "
    f"{JSON_MAX_DEPTH} levels deep.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # A PATCH body is documented as its serializer reads it: a field it requires is
    # required (a member's role), the others are optional because they are declared so.
    "COMPONENT_SPLIT_PATCH": False,
    # Swagger UI is served from our own static files (no CDN; the CSP allows only 'self').
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        # The verify endpoint is a plain Django view, outside DRF's reach; document it.
        "apikeys.keys.verify.document_verify_endpoint",
        "accounts.rest.document_errors",
        "accounts.rest_input.document_required_bodies",
    ],
}

# Content Security Policy: no inline script, nothing from other origins.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "font-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_HTTPONLY = True

# Data exports: how long the download link and the file live.
EXPORT_TTL_DAYS = env.int("EXPORT_TTL_DAYS", default=7)
# A file in the export folder without an owner row is deleted once this old (younger
# ones may still be being written).
EXPORT_ORPHAN_MIN_AGE_MINUTES = env.int("EXPORT_ORPHAN_MIN_AGE_MINUTES", default=60)

# Privacy requests.
PRIVACY_REQUEST_CONFIRMATION_HOURS = env.int("PRIVACY_REQUEST_CONFIRMATION_HOURS", default=24)
# A public request still unconfirmed this long after its link expired is closed as
# expired and purged (it holds an email, a name and free text, and was never received).
PRIVACY_REQUEST_UNCONFIRMED_GRACE_HOURS = env.int(
    "PRIVACY_REQUEST_UNCONFIRMED_GRACE_HOURS", default=24
)
PRIVACY_REQUEST_DUE_SOON_DAYS = env.int("PRIVACY_REQUEST_DUE_SOON_DAYS", default=5)
# Who is alerted about due and overdue requests; empty means every active staff user.
PRIVACY_STAFF_EMAILS = env.list("PRIVACY_STAFF_EMAILS", default=[])
# A processor that has not completed a request this long after it was sent (or last
# reminded) is sent a reminder (docs/processors.md).
PROCESSOR_REMINDER_AFTER_HOURS = env.int("PROCESSOR_REMINDER_AFTER_HOURS", default=72)
# Who hears that usage rows landed in the default partition; active superusers if empty.
USAGE_PARTITION_ALERT_EMAILS = env.list("USAGE_PARTITION_ALERT_EMAILS", default=[])

# Support desk (support/). Requests are kept this long after they are closed (the policy
# says support communications are kept two to three years), then purged with their files.
SUPPORT_RETENTION_DAYS = env.int("SUPPORT_RETENTION_DAYS", default=3 * 365)
SUPPORT_ATTACHMENT_MAX_FILES = env.int("SUPPORT_ATTACHMENT_MAX_FILES", default=3)
SUPPORT_ATTACHMENT_MAX_BYTES = env.int("SUPPORT_ATTACHMENT_MAX_BYTES", default=5 * 1024 * 1024)
SUPPORT_PUBLIC_CONFIRMATION_HOURS = env.int("SUPPORT_PUBLIC_CONFIRMATION_HOURS", default=24)
# Staff are reminded this many hours before a target is missed, and again once it is.
SUPPORT_REMIND_BEFORE_HOURS = env.int("SUPPORT_REMIND_BEFORE_HOURS", default=2)
SUPPORT_STAFF_EMAILS = env.list("SUPPORT_STAFF_EMAILS", default=[])
# First-response and resolution targets per category, in hours.
SUPPORT_TARGETS = {
    "default": {"first_response_hours": 24, "resolution_hours": 120},
    "account": {"first_response_hours": 8, "resolution_hours": 48},
    "api_keys": {"first_response_hours": 8, "resolution_hours": 72},
    "billing": {"first_response_hours": 24, "resolution_hours": 120},
    "privacy": {"first_response_hours": 24, "resolution_hours": 240},
    "abuse": {"first_response_hours": 4, "resolution_hours": 48},
    "other": {"first_response_hours": 48, "resolution_hours": 168},
}

# Workspaces and invitations.
INVITATION_TTL_DAYS = 7
WORKSPACE_USAGE_RETENTION_DEFAULT_DAYS = 30

# How long a process keeps its in-memory copy of a key record. Changes do not wait for
# it: every verify checks the key's generation (its tracked copy, or in the shared cache).
API_KEY_LOCAL_CACHE_SECONDS = env.float("API_KEY_LOCAL_CACHE_SECONDS", default=30.0)
# Verify keeps copies of key generations in each process, invalidated by Redis (RESP3
# CLIENT TRACKING), so a warm call needs no round trip (apikeys/keys/tracking.py).
API_KEY_TRACKING = env.bool("API_KEY_TRACKING", default=True)
# Each process leases at most 1/N of a key's requests/min and tokens/min at a time
# (limits under N are counted in Redis on every call); docs/api-keys.md states the bound.
API_KEY_LEASE_DIVISOR = env.int("API_KEY_LEASE_DIVISOR", default=100)

# Account and workspace deletion (privacy/deletion.py).
ACCOUNT_DELETION_GRACE_DAYS = env.int("ACCOUNT_DELETION_GRACE_DAYS", default=30)
WORKSPACE_DELETION_GRACE_DAYS = env.int("WORKSPACE_DELETION_GRACE_DAYS", default=30)
# Deletes walk each table in windows sized to take about DELETION_BATCH_TARGET_MS (and
# about DELETION_BATCH_MAX_ROWS rows at most); the first window of a table is exactly
# DELETION_BATCH_SIZE rows. A delete running past DELETION_STATEMENT_TIMEOUT_MS is
# cancelled and its window shrunk, so no batch holds its locks for long.
DELETION_BATCH_SIZE = env.int("DELETION_BATCH_SIZE", default=10_000)
DELETION_BATCH_MAX_ROWS = env.int("DELETION_BATCH_MAX_ROWS", default=200_000)
DELETION_BATCH_TARGET_MS = env.float("DELETION_BATCH_TARGET_MS", default=40.0)
DELETION_STATEMENT_TIMEOUT_MS = env.int("DELETION_STATEMENT_TIMEOUT_MS", default=70)
DELETION_AUDIT_BATCH_SIZE = env.int("DELETION_AUDIT_BATCH_SIZE", default=10_000)
DELETION_TIME_BUDGET_SECONDS = env.float("DELETION_TIME_BUDGET_SECONDS", default=60.0)
# A claim whose heartbeat is older than this is taken to belong to a dead worker.
DELETION_CLAIM_STALE_SECONDS = env.int("DELETION_CLAIM_STALE_SECONDS", default=300)
# Fault tests only: a pause between batches so a deletion can be caught half-way.
DELETION_BATCH_PAUSE_SECONDS = env.float("DELETION_BATCH_PAUSE_SECONDS", default=0.0)
# Retention (privacy/retention.py): {"app.Model": {"days": n}} overrides the defaults.
# The usage purge walks primary-key ranges sized like the deletion windows above.
RETENTION_BATCH_SIZE = env.int("RETENTION_BATCH_SIZE", default=10_000)
RETENTION_BATCH_MAX_IDS = env.int("RETENTION_BATCH_MAX_IDS", default=500_000)
RETENTION_BATCH_TARGET_MS = env.float("RETENTION_BATCH_TARGET_MS", default=30.0)
RETENTION_STATEMENT_TIMEOUT_MS = env.int("RETENTION_STATEMENT_TIMEOUT_MS", default=60)
RETENTION_OVERRIDES: dict = {}

# Cookie consent and policy notices.
CONSENT_IP_HASH_SALT = env("CONSENT_IP_HASH_SALT", default="")
CONSENT_COOKIE_MAX_AGE_DAYS = env.int("CONSENT_COOKIE_MAX_AGE_DAYS", default=180)
POLICY_NOTICE_DAYS = env.int("POLICY_NOTICE_DAYS", default=30)
POLICY_NOTICE_BATCH_SIZE = env.int("POLICY_NOTICE_BATCH_SIZE", default=500)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # One-time tokens in paths never reach a log line: Django logs the path of a 404 or
    # 403 (django.request) and of every request under runserver (django.server).
    "filters": {"redact_tokens": {"()": "accounts.log_redaction.RedactTokensFilter"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["redact_tokens"],
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # One JSON line per audit checkpoint: ship it to a store the database admin
        # cannot edit, and `audit_verify --expect` checks the chain against it.
        "console.audit.checkpoint": {"level": "INFO"},
    },
}
