"""The Redis cache backend (clinic.cache): one client per connection pool, shared by every
read and write."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from clinic.cache import SharedClientRedisCacheClient


@pytest.fixture
def redis_cache():
    if not isinstance(getattr(cache, "_cache", None), SharedClientRedisCacheClient):
        pytest.skip("the tests run without Redis (REDIS_URL)")
    return cache


def test_every_read_and_write_shares_one_client(redis_cache):
    client = redis_cache._cache.get_client()

    assert redis_cache._cache.get_client("a key") is client
    assert redis_cache._cache.get_client(write=True) is client


def test_values_are_kept_and_read_through_it(redis_cache):
    redis_cache.set("clinic-cache-test", {"markup": "<p>kept</p>"}, 30)

    assert redis_cache.get("clinic-cache-test") == {"markup": "<p>kept</p>"}
    assert redis_cache.get_many(["clinic-cache-test", "nothing"]) == {
        "clinic-cache-test": {"markup": "<p>kept</p>"}
    }
    redis_cache.delete("clinic-cache-test")
    assert redis_cache.get("clinic-cache-test") is None
