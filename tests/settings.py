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
