"""Django settings for Coursepack.

Everything that varies between machines comes from the environment:
``DATABASE_URL`` (default: an embedded SQLite file under ``var/``),
``COURSEPACK_SECRET_KEY``, ``COURSEPACK_DEBUG`` and ``COURSEPACK_ALLOWED_HOSTS``.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("COURSEPACK_VAR_DIR", BASE_DIR / "var"))

DEBUG = os.environ.get("COURSEPACK_DEBUG", "1") == "1"
SECRET_KEY = os.environ.get(
    "COURSEPACK_SECRET_KEY", "coursepack-development-only-key-change-me-in-production"
)
ALLOWED_HOSTS = os.environ.get("COURSEPACK_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # Serves the API docs page (Swagger UI) from local static files, not a CDN.
    "ninja",
    "coursepack.accounts",
    "coursepack.catalog",
    "coursepack.packaging",
    "coursepack.learning",
    "coursepack.audit",
    # Above learning: legacy migration and package files (import_legacy, export_package, ...).
    "coursepack.interchange",
    "coursepack.web",
    # Demo data for `make run` (manage.py load_demo); above every domain app.
    "coursepack.demo",
    # Benchmark data generator and runner (manage.py generate_scale_data, run_benchmarks).
    "coursepack.bench",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers proceed during a write; IMMEDIATE takes the write lock at
    # BEGIN so two writers queue instead of failing half-way with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        # A 64 MiB page cache per connection (the default is 2 MiB): at millions of
        # rows the indexes a request walks no longer fit the default.
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON; "
            "PRAGMA cache_size=-65536;"
        ),
    }
# Connections are kept (per thread) for a minute on both engines (conn_max_age
# above): opening one and running the PRAGMAs costs more than the rest of a small
# request. No health check: it would cost PostgreSQL a round trip per request.

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"

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
