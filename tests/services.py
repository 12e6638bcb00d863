"""Outside services some tests need, and why one is unusable.

Tests marked ``redis`` need a Redis server at ``REDIS_URL``; tests marked
``redis_server`` need the ``redis-server`` program, to start a Redis of their own
(tests/private_servers.py); tests marked ``browser`` need Chromium at
``/usr/bin/chromium`` (or ``CHROMIUM_PATH``). The root conftest skips
a test whose service is missing, with the reason shown in pytest's summary, so a laptop
without them still gets a green run; CI sets ``REQUIRE_SERVICES=1`` and then a missing
service fails the test instead of hiding it.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

DEFAULT_CHROMIUM = "/usr/bin/chromium"


def chromium_path() -> Path:
    return Path(os.environ.get("CHROMIUM_PATH") or DEFAULT_CHROMIUM)


@functools.cache
def redis_missing() -> str | None:
    """Why Redis cannot be used, or None when it answers a PING."""
    url = os.environ.get("REDIS_URL", "").strip()
    if not url:
        return "REDIS_URL is not set"
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping()
    except redis.RedisError as exc:
        return f"Redis at REDIS_URL does not answer ({exc})"
    return None


def redis_server_missing() -> str | None:
    """Why no private Redis can be started, or None when ``redis-server`` is installed."""
    if shutil.which("redis-server") is None:
        return "redis-server is not installed (apt-get install redis-server)"
    return None


def chromium_missing() -> str | None:
    path = chromium_path()
    if not (path.is_file() and os.access(path, os.X_OK)):
        return f"Chromium not found at {path}: apt-get install chromium"
    return None


SERVICE_CHECKS = {
    "redis": redis_missing,
    "redis_server": redis_server_missing,
    "browser": chromium_missing,
}
