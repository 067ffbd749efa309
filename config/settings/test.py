import os

from .base import *  # noqa: F401,F403

SECRET_KEY = "test-secret-key"
DEBUG = False
# The default hasher costs ~0.3 s per login; tests log in a lot.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
# never the developer's own checkpoints (tests that sign set their own folder)
AUDIT_CHECKPOINT_DIR = f"{__import__('tempfile').gettempdir()}/residency-test-checkpoints-{os.getpid()}"
WHITENOISE_USE_FINDERS = True

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not memory: threads and the live server see one database, as in production.
    import tempfile

    DATABASES["default"]["TEST"] = {"NAME": f"{tempfile.gettempdir()}/residency-test-{os.getpid()}.sqlite3"}  # noqa: F405

# No REST rate limit unless a test sets one (SPEC §6), with override_settings or, for the servers
# a test starts in other processes, these environment variables; no decision limit either.
API_RATE_LIMIT = os.environ.get("TEST_API_RATE_LIMIT") or None
DECISION_RATE_LIMIT = os.environ.get("TEST_DECISION_RATE_LIMIT") or None
