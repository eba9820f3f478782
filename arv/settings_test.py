"""Settings for the test suite: the production settings with test-only defaults.

Only defaults are set here, so CI can still point the suite at PostgreSQL or Redis through the
same environment variables as production.
"""

import os

os.environ.setdefault("ARV_IGNORE_DOTENV", "1")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-never-used-outside-the-test-suite")
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("LOG_FORMAT", "text")

from arv.settings import *  # noqa: F403
from arv.settings import STORAGES

# Hashing with the real algorithm costs ~0.3 s per login; the suite logs in hundreds of times.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The manifest storage needs `collectstatic`; tests resolve static files from the source tree.
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
# Each test sees its own changes at once; the micro-cache has its own test.
VIEWER_PAGE_CACHE_SECONDS = 0
VIEWS_FLUSH_SECONDS = 0

# Static files come from the finders, not a collectstatic run.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

# A file, not memory, so that the worker processes the integration tests start (qcluster) share
# the test database with the test process.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    import tempfile

    DATABASES["default"]["TEST"] = {"NAME": os.path.join(tempfile.gettempdir(), f"arv-test-{os.getpid()}.sqlite3")}  # noqa: F405
