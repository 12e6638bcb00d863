"""With REDIS_URL set, the cache and the Celery broker both live in that Redis."""

from __future__ import annotations

import os
import uuid

import pytest
from django.conf import settings
from django.core.cache import cache

from clinic.celery import app

pytestmark = pytest.mark.redis


def test_the_cache_round_trips_a_value_through_redis():
    import redis

    key = f"test-{uuid.uuid4().hex}"

    cache.set(key, {"chairs": 4}, timeout=30)

    assert cache.get(key) == {"chairs": 4}
    # That Redis (each pytest-xdist worker's cache has a database of its own there).
    server = redis.Redis.from_url(settings.CACHES["default"]["LOCATION"])
    assert (
        server.connection_pool.connection_kwargs["port"]
        == redis.Redis.from_url(os.environ["REDIS_URL"]).connection_pool.connection_kwargs["port"]
    )
    assert any(key in name.decode() for name in server.scan_iter(match=f"*{key}*"))
    cache.delete(key)
    assert cache.get(key) is None


def test_celery_uses_redis_as_its_broker():
    assert app.conf.broker_url == os.environ["REDIS_URL"]
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1)
        assert connection.transport_cls == "redis"
