"""Production: everything from the environment (README, Configuration), HTTPS only.

`python manage.py check --deploy` is clean with the README's production environment (a test
runs it). Every command of a deploy runs with DJANGO_SETTINGS_MODULE=config.settings.production.
"""

import os

from .base import *  # noqa: F401,F403
from .base import env_bool

DEBUG = False
PRODUCTION = True
SECRET_KEY = os.environ["SECRET_KEY"]
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
# HTTPS only: redirect plain HTTP, and tell browsers to never use it again (HSTS). The benchmarks
# and multi-process tests, which serve plain HTTP on loopback, set SECURE_SSL_REDIRECT=false.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
# the health probes of a load balancer speak plain HTTP to the server itself
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
# no mail configuration (EMAIL_HOST or EMAIL_FILE_PATH) fails the system check core.E001
EMAIL_REQUIRED = True
if not EMAIL_HOST and not EMAIL_FILE_PATH:  # noqa: F405
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# audit_checkpoint never creates a signing key here: AUDIT_SIGNING_KEY must be set (SPEC §7)
AUDIT_DEVELOPMENT_KEY_ALLOWED = False
