"""Django settings for Coursepack.

Everything that varies between machines comes from the environment (see
docs/deploy.md for the whole list): ``DATABASE_URL`` (default: an embedded
SQLite file under ``var/``), ``COURSEPACK_SECRET_KEY`` (default: a key generated
once into ``var/secret_key``, mode 0600), ``COURSEPACK_DEBUG`` (default off),
``COURSEPACK_ALLOWED_HOSTS``, ``COURSEPACK_HTTPS`` (behind a TLS proxy: secure
cookies, HSTS, SSL redirect) and the limits below.

The defaults are the safe ones: a machine that sets nothing runs without debug
pages, with a key nobody else has, and with every security header on.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("COURSEPACK_VAR_DIR", BASE_DIR / "var"))


def _flag(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


def _secret_key(variable: str, path: Path) -> str:
    """Return the key from ``variable``, or the one generated once into ``path`` (mode 0600).

    Generated with O_EXCL, so two processes starting at once (gunicorn workers,
    the task worker) agree on one key: the loser of the race reads the winner's.
    """
    configured = os.environ.get(variable, "").strip()
    if configured:
        return configured
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text().strip()
        if key:
            return key
        raise RuntimeError(f"{path} is empty: delete it to have a new key generated") from None
    key = secrets.token_urlsafe(50)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


DEBUG = _flag("COURSEPACK_DEBUG")
SECRET_KEY = _secret_key("COURSEPACK_SECRET_KEY", VAR_DIR / "secret_key")
# The audit chain's HMAC key (ADR 0019): kept outside the database, so that write
# access to the database file is not enough to rewrite the log undetected. Keep a
# copy away from the database's backups; without it keyed records cannot be verified.
AUDIT_KEY = _secret_key(
    "COURSEPACK_AUDIT_KEY",
    Path(os.environ.get("COURSEPACK_AUDIT_KEY_FILE", VAR_DIR / "audit_key")),
)
ALLOWED_HOSTS = [
    h.strip()
    for h in os.environ.get("COURSEPACK_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")
    if h.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "csp",
    "axes",
    # Background jobs: django-tasks with its database backend (worker: db_worker).
    "django_tasks",
    "django_tasks_db",
    # Serves the API docs page (Swagger UI) from local static files, not a CDN.
    "ninja",
    "coursepack.accounts",
    # Org units, placements and unit managers (kept in sync from HR).
    "coursepack.organisation",
    "coursepack.catalog",
    "coursepack.packaging",
    "coursepack.learning",
    "coursepack.audiences",
    # Reminders and notifications by email (above learning).
    "coursepack.notifications",
    "coursepack.audit",
    # Above learning: legacy migration and package files (import_legacy, export_package, ...).
    "coursepack.interchange",
    # The integrator API's state: events feed, idempotency keys, webhooks (ADRs 0028, 0029).
    "coursepack.integrations",
    "coursepack.jobs",
    "coursepack.web",
    # Demo data for `make run` (manage.py load_demo); above every domain app.
    "coursepack.demo",
    # Benchmark data generator and runner (manage.py generate_scale_data, run_benchmarks).
    "coursepack.bench",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Below whitenoise: static files keep their long cache headers; everything
    # else (pages, API, exports) is personal data and is never stored.
    "coursepack.http.middleware.NoStoreMiddleware",
    "csp.middleware.CSPMiddleware",
    # Refuses oversized bodies (413) and turns every error under /api/ into
    # problem+json; a locked database becomes 503 + Retry-After, not a 500.
    "coursepack.http.middleware.ProblemMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # A POST under /api/ retried with its Idempotency-Key gets the first answer again.
    "coursepack.http.idempotency.IdempotencyMiddleware",
    # Signs out a session idle for longer than SESSION_IDLE_TIMEOUT.
    "coursepack.http.middleware.SessionIdleTimeoutMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # After a write, this client reads the primary for a while (read-your-writes).
    "coursepack.replica.ReadYourWritesMiddleware",
    # Last, as django-axes asks: it answers locked-out sign-ins.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "coursepack.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "coursepack.web.context_processors.role",
            ],
        },
    },
]

WSGI_APPLICATION = "coursepack.wsgi.application"

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'coursepack.sqlite3'}"),
        conn_max_age=60,
    )
}
# How long a write waits for another write's lock before it gives up: the
# request then gets 503 + Retry-After (never a 500), and nothing is changed.
DB_LOCK_TIMEOUT_SECONDS = float(os.environ.get("COURSEPACK_DB_LOCK_TIMEOUT", "5"))
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = (
        f"-c lock_timeout={int(DB_LOCK_TIMEOUT_SECONDS * 1000)}"
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's SQLite backend with a first-come-first-served writer queue
    # (coursepack/sqlite_backend): writers no longer sleep in SQLite's busy handler.
    DATABASES["default"]["ENGINE"] = "coursepack.sqlite_backend"
    # WAL lets readers proceed during a write; IMMEDIATE takes the write lock at
    # BEGIN so two writers queue instead of failing half-way with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": DB_LOCK_TIMEOUT_SECONDS,
        # A 64 MiB page cache per connection (the default is 2 MiB): at millions of
        # rows the indexes a request walks no longer fit the default.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
            "PRAGMA cache_size=-65536;"
        ),
    }
# A PostgreSQL streaming replica for report, export and transcript reads (ADR 0021,
# docs/deploy.md): views opt in with coursepack.replica.reads_from_replica; writes,
# and reads of identities and permissions, stay on the primary. Refused on SQLite.
if os.environ.get("DATABASE_REPLICA_URL", "").strip():
    from coursepack.replica import replica_database

    DATABASES["replica"] = replica_database(
        os.environ["DATABASE_REPLICA_URL"].strip(),
        primary_engine=DATABASES["default"]["ENGINE"],
    )
    DATABASES["replica"].setdefault("OPTIONS", {})["options"] = (
        f"-c lock_timeout={int(DB_LOCK_TIMEOUT_SECONDS * 1000)}"
    )
DATABASE_ROUTERS = ["coursepack.replica.ReplicaRouter"]
# Pages read from the replica say so when its replay is further behind than this.
REPLICA_LAG_NOTICE_SECONDS = float(os.environ.get("COURSEPACK_REPLICA_LAG_NOTICE", "30"))
# After a write, that client reads the primary for this long (read-your-writes).
REPLICA_READ_YOUR_WRITES_SECONDS = float(os.environ.get("COURSEPACK_READ_YOUR_WRITES", "30"))
# Connections are kept (per thread) for a minute on both engines (conn_max_age
# above): opening one and running the PRAGMAs costs more than the rest of a small
# request. No health check: it would cost PostgreSQL a round trip per request.

# Long operations run as background jobs (ADR "task framework"); `make run`
# starts the worker beside the server.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# Learners per committed chunk of a bulk-enrolment job (each holds the write lock briefly).
JOB_CHUNK_LEARNERS = int(os.environ.get("COURSEPACK_JOB_CHUNK", "250"))
# A publish that would move more enrolled learners than this publishes at once and
# moves them in a background job, a committed chunk at a time (ADR 0020); at or
# under it the moves happen in the publish's own transaction (well under a second).
PUBLISH_MOVES_IN_BACKGROUND_OVER = int(os.environ.get("COURSEPACK_PUBLISH_MOVES_OVER", "500"))
# XLSX exports of more rows than this (learners of a report, people of the matrix)
# run as background jobs writing to EXPORTS_DIR; smaller ones are written in the
# request. CSV always streams (ADR 0031).
EXPORT_INLINE_MAX_ROWS = int(os.environ.get("COURSEPACK_EXPORT_INLINE_MAX_ROWS", "5000"))
# A report on a past timeline works out each enrollment's transcript (~1 ms each): over
# more enrollments than this it is prepared as a background XLSX export, never in the
# request (ADR 0039).
REPORT_TIMELINE_INLINE_MAX_ENROLLMENTS = int(
    os.environ.get("COURSEPACK_REPORT_TIMELINE_INLINE_MAX_ENROLLMENTS", "1000")
)
EXPORTS_DIR = Path(os.environ.get("COURSEPACK_EXPORTS_DIR", VAR_DIR / "exports"))
# An export job's file is removed this many hours after the job ends (the worker's
# periodic task); only its requester or an admin may download it until then.
EXPORT_KEEP_HOURS = float(os.environ.get("COURSEPACK_EXPORT_KEEP_HOURS", "24"))
# How often the worker verifies the whole audit log (AUDIT_VERIFY job), in hours.
AUDIT_VERIFY_EVERY_HOURS = float(os.environ.get("COURSEPACK_AUDIT_VERIFY_HOURS", "24"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Sign-in throttling (django-axes): after AXES_FAILURE_LIMIT failed sign-ins for
# one username from one address, that pair is locked out for AXES_COOLOFF_TIME.
# Each failure and each lockout is written to the audit log (accounts.signals).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "coursepack.accounts.backends.AccountBackend",
]
AXES_FAILURE_LIMIT = int(os.environ.get("COURSEPACK_SIGNIN_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = float(os.environ.get("COURSEPACK_SIGNIN_LOCKOUT_HOURS", "0.25"))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "web/locked_out.html"
AXES_VERBOSE = False
# Axes' own admin pages would let an admin delete attempts (unlock) unaudited;
# every failure and lockout is in the audit log instead.
AXES_ENABLE_ADMIN = False
# Behind a proxy (COURSEPACK_HTTPS=1), the client's address is the last hop the
# proxy appended to X-Forwarded-For; directly, it is REMOTE_ADDR.
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ["HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"] if _flag("COURSEPACK_HTTPS") else ["REMOTE_ADDR"]
)

# Sessions: signed out after SESSION_IDLE_TIMEOUT without a request, and after
# SESSION_COOKIE_AGE whatever happens (the absolute lifetime: the expiry is set at
# sign-in and not extended, SESSION_SAVE_EVERY_REQUEST stays off).
SESSION_IDLE_TIMEOUT = int(os.environ.get("COURSEPACK_SESSION_IDLE_MINUTES", "30")) * 60
SESSION_COOKIE_AGE = int(os.environ.get("COURSEPACK_SESSION_MAX_HOURS", "12")) * 3600
SESSION_COOKIE_HTTPONLY = True
# Django's database sessions, read by one statement written once (ADR 0035).
SESSION_ENGINE = "coursepack.http.sessions"
SESSION_COOKIE_SAMESITE = "Lax"

# Personal API tokens expire: COURSEPACK_TOKEN_DAYS by default, at most
# COURSEPACK_TOKEN_MAX_DAYS whatever the caller asks.
API_TOKEN_DEFAULT_DAYS = int(os.environ.get("COURSEPACK_TOKEN_DAYS", "90"))
API_TOKEN_MAX_DAYS = int(os.environ.get("COURSEPACK_TOKEN_MAX_DAYS", "365"))

# Webhooks (ADR 0029): the worker POSTs each subscription's events in order. An
# attempt waits WEBHOOK_TIMEOUT_SECONDS for an answer; after a failure the next
# waits WEBHOOK_RETRY_BASE_SECONDS, doubling each time (at most
# WEBHOOK_RETRY_MAX_SECONDS); after WEBHOOK_MAX_FAILURES failures in a row the
# subscription is disabled. URLs on loopback, private or link-local addresses are
# refused (SSRF) unless COURSEPACK_WEBHOOK_ALLOW_PRIVATE=1 (tests, closed networks).
WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("COURSEPACK_WEBHOOK_TIMEOUT", "10"))
WEBHOOK_RETRY_BASE_SECONDS = float(os.environ.get("COURSEPACK_WEBHOOK_RETRY_BASE", "60"))
WEBHOOK_RETRY_MAX_SECONDS = float(os.environ.get("COURSEPACK_WEBHOOK_RETRY_MAX", "21600"))
WEBHOOK_MAX_FAILURES = int(os.environ.get("COURSEPACK_WEBHOOK_MAX_FAILURES", "10"))
WEBHOOK_ALLOW_PRIVATE_TARGETS = _flag("COURSEPACK_WEBHOOK_ALLOW_PRIVATE")
# How often the worker looks for events to deliver, in seconds.
WEBHOOK_POLL_SECONDS = float(os.environ.get("COURSEPACK_WEBHOOK_POLL", "5"))
# After a secret is rotated, deliveries are signed with the old one too for this long.
WEBHOOK_OLD_SECRET_HOURS = float(os.environ.get("COURSEPACK_WEBHOOK_OLD_SECRET_HOURS", "24"))

# Request bodies above this many bytes are refused with 413 (exports are
# responses, not bodies; the largest body is a package file or a bulk request).
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("COURSEPACK_MAX_BODY_BYTES", str(2 * 1024 * 1024)))
# A completion that occurred longer ago than this when it is recorded needs a
# reason (learning.record_completion), and is marked recorded late.
COMPLETION_LATE_HORIZON_DAYS = int(os.environ.get("COURSEPACK_LATE_HORIZON_DAYS", "365"))
# Seconds a client is asked to wait (Retry-After) when the database is busy.
COURSEPACK_RETRY_AFTER_SECONDS = 2

# HTTPS behind a TLS-terminating proxy (docs/deploy.md). With it `check --deploy`
# is clean; without it (a laptop, the test suite) cookies work over plain HTTP.
if _flag("COURSEPACK_HTTPS"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(os.environ.get("COURSEPACK_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = _flag("COURSEPACK_HSTS_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = _flag("COURSEPACK_HSTS_PRELOAD", True)
CSRF_TRUSTED_ORIGINS = [
    o.strip() for o in os.environ.get("COURSEPACK_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()
]
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy: scripts only from our own static files (no inline
# script, no eval). Inline *styles* are allowed: htmx and Swagger UI set them.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, "'unsafe-inline'"],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("COURSEPACK_STATIC_ROOT", BASE_DIR / "staticfiles"))
# collectstatic (run by `make run`) compresses; whitenoise serves STATIC_ROOT.
# Not the manifest storage: the test suite renders pages without collectstatic.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/login/"

# Transcripts mark an entry "recorded late" when it was recorded more than this long
# after it occurred (PRODUCT.md, "Two timelines"): COURSEPACK_LATE_ENTRY_INTERVAL, in
# hours (default 72: a weekend's delay is not late).
COURSEPACK_LATE_ENTRY_INTERVAL = timedelta(
    hours=float(os.environ.get("COURSEPACK_LATE_ENTRY_INTERVAL", "72"))
)

# Who may grant and revoke exemptions (PRODUCT.md, "Compliance lifecycle"): a comma-
# separated list of roles (admin, auditor, learner); COURSEPACK_EXEMPTING_ROLES.
COURSEPACK_EXEMPTING_ROLES = tuple(
    r.strip() for r in os.environ.get("COURSEPACK_EXEMPTING_ROLES", "admin").split(",") if r.strip()
)

# Email (reminders and manager digests, coursepack.notifications). With EMAIL_HOST set,
# mail goes out by SMTP; without it (make run / make dev on a laptop) it is printed
# to the console. EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS,
# EMAIL_USE_SSL, EMAIL_TIMEOUT and DEFAULT_FROM_EMAIL are Django's own settings, read
# from the environment variables of the same names (docs/deploy.md).
EMAIL_HOST = os.environ.get("EMAIL_HOST", "").strip()
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "25"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _flag("EMAIL_USE_TLS")
EMAIL_USE_SSL = _flag("EMAIL_USE_SSL")
EMAIL_TIMEOUT = float(os.environ.get("EMAIL_TIMEOUT", "30"))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Coursepack <coursepack@localhost>")
# Reminder runs (ADR 0026): at most this many messages a minute, and per run (the rest
# wait for the next run); a failed send is retried by later runs up to MAX_ATTEMPTS.
NOTIFICATIONS_RATE_PER_MINUTE = float(os.environ.get("COURSEPACK_MAIL_RATE_PER_MINUTE", "120"))
NOTIFICATIONS_MAX_PER_RUN = int(os.environ.get("COURSEPACK_MAIL_MAX_PER_RUN", "5000"))
NOTIFICATIONS_MAX_ATTEMPTS = int(os.environ.get("COURSEPACK_MAIL_MAX_ATTEMPTS", "5"))
# "Assigned" and "completed" go out for enrolments / completions this recent (days).
NOTIFICATIONS_LOOKBACK_DAYS = int(os.environ.get("COURSEPACK_MAIL_LOOKBACK_DAYS", "7"))
# Managers get a digest of their team's overdue people once per this many days.
NOTIFICATIONS_DIGEST_DAYS = int(os.environ.get("COURSEPACK_MAIL_DIGEST_DAYS", "7"))
# The address of Coursepack's pages, for the links in messages.
NOTIFICATIONS_SITE_URL = os.environ.get("COURSEPACK_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# The worker queues a reminder run this often (seconds); 0: never (runs by hand only).
NOTIFICATIONS_RUN_EVERY_SECONDS = float(os.environ.get("COURSEPACK_REMINDERS_EVERY", "3600"))
