"""Settings shared by every environment, configured by environment variables.

DATABASE_URL (dj-database-url form) defaults to a SQLite file in the project root.
"""

import os
from datetime import timedelta
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
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "core",
    "audit",
    "orgs",
    "residency",
]

MIDDLEWARE = [
    "core.middleware.RequestIdMiddleware",
    "core.hygiene.HygieneMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "core.middleware.PageCSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "orgs.middleware.SessionGuardMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # last: turns a sign-in refused by django-axes into the "locked for 15 minutes" page
    "axes.middleware.AxesMiddleware",
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
    # first: refuses every sign-in of a locked-out account or address, the right password too
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
ANONYMOUS_USER_NAME = None

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# An invitation link (SPEC §6) is a password-reset-style token: valid 72 hours, single use.
PASSWORD_RESET_TIMEOUT = 72 * 3600

# --- sessions: idle expiry (orgs.middleware.SessionGuardMiddleware renews at most once a minute)
SESSION_IDLE_TIMEOUT = int(os.environ.get("SESSION_IDLE_TIMEOUT", str(12 * 3600)))
SESSION_COOKIE_AGE = SESSION_IDLE_TIMEOUT
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"

# --- sign-in lockout (django-axes): 10 failures per account or per address, locked 15 minutes
AXES_FAILURE_LIMIT = int(os.environ.get("SIGNIN_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("SIGNIN_LOCKOUT_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own: an account, or an address
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # locked for 15 minutes from the lockout
AXES_USERNAME_CALLABLE = "orgs.signin.axes_username"
AXES_CLIENT_IP_CALLABLE = "orgs.signin.axes_client_ip"
AXES_LOCKOUT_CALLABLE = "orgs.signin.lockout_response"
AXES_VERBOSE = False

# --- two-factor sign-in (django-otp, TOTP and recovery codes)
OTP_TOTP_ISSUER = os.environ.get("OTP_TOTP_ISSUER", "Residency Console")

# --- email (SPEC §6): SMTP with EMAIL_HOST, files with EMAIL_FILE_PATH, else the console
# (outside production settings; production settings fail `core.E001` with neither)
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", "10"))
EMAIL_FILE_PATH = os.environ.get("EMAIL_FILE_PATH", "")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Residency Console <no-reply@residency.test>")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
elif EMAIL_FILE_PATH:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
else:  # the terminal, on standard error (never into a command's output)
    EMAIL_BACKEND = "core.mail.StderrEmailBackend"
# the address links in emails point at (invitations); default: the address the request came to
CONSOLE_BASE_URL = os.environ.get("CONSOLE_BASE_URL", "").rstrip("/")
# production settings set this: `core.E001` then refuses to run without a mail configuration
EMAIL_REQUIRED = False
PRODUCTION = False  # config.settings.production sets True (seed_demo refuses to run there)

# --- REST rate limits per API key (SPEC §6), counted in a store every server process shares:
# Redis when REDIS_URL is set, else an atomic counter in the database (core.ratelimit)
API_RATE_LIMIT = os.environ.get("API_RATE_LIMIT", "1000/min") or None
DECISION_RATE_LIMIT = os.environ.get("DECISION_RATE_LIMIT") or None
REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
RATE_LIMIT_STORE = "redis" if REDIS_URL else "database"

# --- response headers: CSP (django-csp), Permissions-Policy, the rest from SecurityMiddleware
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    },
}
PERMISSIONS_POLICY = {
    "accelerometer": [], "camera": [], "geolocation": [], "gyroscope": [], "magnetometer": [],
    "microphone": [], "payment": [], "usb": [], "clipboard-write": ["self"],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

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
        {"name": "Data residency policy", "description": "The organization's bound over every workspace's inference "
         "geos (every plan)."},
        {"name": "Residency impact", "description": "What a residency change would have cost over recent usage, "
         "before it is made."},
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
        {"name": "Approval settings", "description": "Whether a change that loosens data residency waits for a "
         "second person's approval."},
        {"name": "Change requests", "description": "Changes that loosen data residency, held until another person "
         "with Privacy: manage approves them (72 hours at most)."},
        {"name": "Analytics", "description": "Usage and cost by workspace, service tier, geo, model and product, "
         "ranked and paged, as the official `anthropic` SDK's analytics readers take them."},
    ],
    # no call to the public validator (offline, and the Content-Security-Policy allows 'self' only)
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
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
        "AuditEventTypeEnum": ["audit_event"],
        "ApiKeyStatusEnum": ["active", "inactive", "archived", "expired"],
        "ApiKeyStatusChangeEnum": ["active", "inactive", "archived"],
        "OrganizationTypeEnum": ["organization"],
        "UserTypeEnum": ["user"],  # a user, and a change request's requester or decider
        "ChangeTargetTypeEnum": "residency.models.ChangeTarget",
        "ChangeRequestStatusEnum": "residency.models.ChangeStatus",
        "UserActorTypeEnum": ["user_actor"],
        "LockReasonEnum": ["legacy_opt_out", "contract"],
        "PolicyLockReasonEnum": ["contract"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
TRUST_X_FORWARDED_FOR = env_bool("TRUST_X_FORWARDED_FOR", False)

# Signed audit checkpoints (SPEC §7; README "Audit checkpoints"): the folder of checkpoint files,
# the Ed25519 private key that signs them (PEM path; only the signing host needs it) and its
# public half for hosts that only verify. Keep both somewhere the database's writers cannot reach.
AUDIT_CHECKPOINT_DIR = os.environ.get("AUDIT_CHECKPOINT_DIR") or str(BASE_DIR / "audit-checkpoints")
AUDIT_SIGNING_KEY = os.environ.get("AUDIT_SIGNING_KEY") or None
AUDIT_PUBLIC_KEY = os.environ.get("AUDIT_PUBLIC_KEY") or None
# Outside production, `audit_checkpoint` with no key creates a development key in the folder.
AUDIT_DEVELOPMENT_KEY_ALLOWED = True
