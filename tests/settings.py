"""Settings for the test suite: the real settings, read from the same environment,
plus what only tests need (a throwaway secret key, a fast password hasher)."""

import os

os.environ.setdefault("SECRET_KEY", "tests-only-" + "k" * 50)

from clinic.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
SECURE_SSL_REDIRECT = False
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

# Each pytest-xdist worker keeps its cache apart: emptying the cache (``cache.clear()``
# empties the whole Redis database, or every file of the file cache) in one worker's test
# must not empty it under another's, which counts the queries of a page served from it.
# Processes a test starts (a Celery worker) inherit the variable, so they share the test's.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if _XDIST_WORKER.startswith("gw"):
    _worker_number = int(_XDIST_WORKER[2:] or 0)
    if REDIS_URL:  # noqa: F405
        from urllib.parse import urlsplit

        _redis = urlsplit(REDIS_URL)  # noqa: F405
        _database = (int(_redis.path.strip("/") or 0) + 1 + _worker_number) % 16
        CACHES["default"]["LOCATION"] = _redis._replace(path=f"/{_database}").geturl()  # noqa: F405
    else:
        CACHES["default"]["LOCATION"] += f"-{_XDIST_WORKER}"  # noqa: F405
