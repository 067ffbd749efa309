"""Settings shared by every environment, configured by environment variables.

DATABASE_URL (dj-database-url form) defaults to a SQLite file in the project root.
"""

import os
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


SECRET_KEY = os.environ.get("SECRET_KEY", "dev-only-insecure-secret-key-change-me")
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "guardian",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "core",
    "audit",
    "orgs",
    "residency",
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    "core.hygiene.HygieneMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "residency.context_processors.console",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions serialize writers up front, so two concurrent services
    # never both read the audit chain head and then collide on the write lock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
elif env_bool("PG_PREPARED_STATEMENTS", True):
    # Django turns psycopg's prepared statements off; its own (client-side binding) queries
    # are never prepared either way. This lets the decision statement, the router's hot path,
    # run as one server-side prepared statement per connection (residency.selectors).
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("prepare_threshold", 5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "orgs.User"

AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "console:home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# WhiteNoise serves static files in every mode; with finders on, no collectstatic step is
# needed for the demo (production may still run collectstatic for compressed files).
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "orgs.auth.ApiKeyAuthentication",
        "orgs.auth.ConsoleSessionAuthentication",
    ],
    # authentication first (a bad key is a 401 whatever else is wrong), then malformed input
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated", "core.hygiene.WellFormedRequest"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["core.hygiene.JSONParser"],
    "EXCEPTION_HANDLER": "core.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Residency Console API",
    "DESCRIPTION": "Control plane for inference residency: organizations, workspaces, "
    "routing decisions, usage and cost, audit events. Authenticate with your API key in the "
    "`x-api-key` header or as `Authorization: Bearer <key>` (as the official `anthropic` SDK sends it). "
    "Lists take `limit` (1 to 1000, default 20), `after_id` and `before_id`. Every error has the body "
    "`{\"type\": \"error\", \"error\": {\"type\", \"message\", \"details\"}, \"request_id\"}`; "
    "every response carries a `request-id` header.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SERVERS": [{"url": "/", "description": "The server that serves this document (every path starts with /v1)."}],
    # security comes from the authentication classes (core.schema / orgs.auth extensions), once each
    "TAGS": [
        {"name": "Organization", "description": "The organization your API key belongs to."},
        {"name": "Inference residency", "description": "US-only inference for the Claude apps (usage-based "
         "Enterprise plans)."},
        {"name": "Workspaces", "description": "Workspaces and their data residency: where data rests and where "
         "inference may run."},
        {"name": "Decisions", "description": "The router's question: where may this request run, at what price "
         "multiplier?"},
        {"name": "Users", "description": "Members of the organization and their roles."},
        {"name": "Roles", "description": "Built-in and custom roles: a level (none, view, manage) per admin area."},
        {"name": "API keys", "description": "API keys: each acts as its member, with at most its creator's access."},
        {"name": "Audit events", "description": "The append-only, hash-chained history of every change and denied "
         "attempt."},
        {"name": "Usage records", "description": "Ingestion of usage rows by internal tools."},
        {"name": "Usage report", "description": "Token usage per hour or day, grouped by workspace, model, geo or "
         "service tier."},
        {"name": "Cost report", "description": "Daily cost in USD cents, grouped by workspace, geo or model."},
        {"name": "Analytics", "description": "Usage and cost by workspace, service tier, geo, model and product, "
         "ranked and paged, as the official `anthropic` SDK's analytics readers take them."},
    ],
    # a nullable choice is `allOf: [<Enum>], nullable: true`, not `oneOf: [<Enum>, NullEnum]`
    "ENUM_ADD_EXPLICIT_BLANK_NULL_CHOICE": False,
    "ENUM_GENERATE_CHOICE_DESCRIPTION": False,
    # One name per choice set used in several places (else drf-spectacular invents one).
    "ENUM_NAME_OVERRIDES": {
        "AreaLevelEnum": ["none", "view", "manage"],
        "AuditLogLevelEnum": ["none", "view"],
        "ApiSurfaceEnum": ["api"],
        "AppsSurfaceEnum": ["apps"],
        "ApiKeyTypeEnum": ["api_key"],
        "ApiKeyStatusEnum": ["active", "inactive", "archived", "expired"],
        "ApiKeyStatusChangeEnum": ["active", "inactive", "archived"],
        "OrganizationTypeEnum": ["organization"],
        "UserTypeEnum": ["user"],
        "UserActorTypeEnum": ["user_actor"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
TRUST_X_FORWARDED_FOR = env_bool("TRUST_X_FORWARDED_FOR", False)
