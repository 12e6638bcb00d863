"""Settings for the benchmark's server: production's (``clinic.settings``, with ``DEBUG=0``
from the environment), plus what measuring needs and nothing a user would see.

- One more page, ``/bench/bare/`` (``benchmarks.urls``): a bare view behind the same
  middleware and sign-in, the yardstick every page is compared with. No production URLconf
  has it.
- ``benchmarks.middleware.QueryCountMiddleware`` first in the chain, so the number of SQL
  queries a request ran (middleware included) comes back in the ``X-Bench-Queries``
  header.
- Static files collected into ``.data/bench-static`` with hashed names, as production's
  storage does for ``{% static %}``, but not compressed: the benchmark loads no static file,
  and compressing them (gzip and brotli) takes minutes on a small machine.

Run ``benchmarks/run.py``, which sets the environment (``DJANGO_SETTINGS_MODULE``,
``DATABASE_URL``, ``SECRET_KEY``, ``ALLOWED_HOSTS``) before gunicorn loads this.
"""

from clinic.settings import *  # noqa: F403
from clinic.settings import DATA_DIR, MIDDLEWARE, STORAGES

ROOT_URLCONF = "benchmarks.urls"
MIDDLEWARE = ["benchmarks.middleware.QueryCountMiddleware", *MIDDLEWARE]
STATIC_ROOT = DATA_DIR / "bench-static"
STORAGES = {
    **STORAGES,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}
