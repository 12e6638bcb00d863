"""Exactly once, with real Redis, real Celery workers and two dispatchers racing.

1,000 due texts go out through two worker processes (prefork, two pool processes each)
while two "beats" claim and queue them at the same time; the fake provider must receive
each idempotency key once. Then again with one worker SIGKILLed while it waits for the
provider's answer to texts the provider already delivered: their rows were never marked
sent (nor were the texts its batches had sent before them: a batch records its results
when it ends), the lease gives them to the other worker, and the idempotency key keeps the
provider from delivering them twice.

tests/test_outbox_restarts.py does the same through a Redis restart and a PostgreSQL
restart.

The processes use the test database (committed rows: a transactional test) and a queue of
their own; see tests/outbox_cluster.py.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator

import pytest

from clinic.models import OutboxMessage, OutboxStatus
from tests.fake_sms import FakeSmsProvider
from tests.outbox_cluster import LOAD_KIND, OutboxCluster, due_texts, wait_for

pytestmark = [pytest.mark.redis, pytest.mark.worker]

MESSAGES = 1000
START_SECONDS = 30
SEND_SECONDS = 40


@pytest.fixture
def provider() -> Iterator[FakeSmsProvider]:
    with FakeSmsProvider() as fake:
        yield fake


def make_cluster(test_database_url, provider, tmp_path, **options) -> OutboxCluster:
    return OutboxCluster(
        database_url=test_database_url,
        provider_url=provider.url,
        redis_url=os.environ["REDIS_URL"],
        log_dir=tmp_path,
        **options,
    )


def sent_count() -> int:
    return OutboxMessage.objects.filter(kind=LOAD_KIND.name, status=OutboxStatus.SENT).count()


def assert_each_sent_once(keys: list[str], provider: FakeSmsProvider) -> None:
    rows = OutboxMessage.objects.filter(idempotency_key__in=keys)
    assert Counter(rows.values_list("status", flat=True)) == {OutboxStatus.SENT: len(keys)}
    delivered = provider.delivered_keys()
    assert set(delivered) == set(keys), "a text was never delivered, or one was made up"
    assert max(delivered.values()) == 1, "a text was delivered twice"
    # Each row records the delivery the provider made for its key.
    references = {d.idempotency_key: d.reference for d in provider.deliveries}
    assert dict(rows.values_list("idempotency_key", "provider_reference")) == references


@pytest.mark.django_db(transaction=True)
def test_two_workers_and_two_beats_send_each_message_exactly_once(
    test_database_url, provider, tmp_path
):
    keys = due_texts(MESSAGES)
    cluster = make_cluster(test_database_url, provider, tmp_path, lease_seconds=60)
    try:
        cluster.start_worker("worker-a")
        cluster.start_worker("worker-b")
        cluster.start_dispatcher("beat-a")
        cluster.start_dispatcher("beat-b")

        assert wait_for(lambda: sent_count() == MESSAGES, seconds=START_SECONDS + SEND_SECONDS), (
            f"{sent_count()} of {MESSAGES} sent: {cluster.describe()}"
        )
    finally:
        cluster.stop()

    assert_each_sent_once(keys, provider)
    # Nothing was even asked twice: the claims alone kept every text to one send.
    assert provider.repeats() == Counter()


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_send_loses_nothing_and_sends_nothing_twice(
    test_database_url, provider, tmp_path
):
    keys = due_texts(MESSAGES)
    # A short lease, so the killed worker's claims are taken over within the test.
    cluster = make_cluster(
        test_database_url, provider, tmp_path, lease_seconds=6, sms_timeout_seconds=3
    )
    try:
        cluster.start_worker("victim")
        cluster.start_worker("survivor")
        assert wait_for(lambda: cluster.workers_ready() == 2, seconds=START_SECONDS), (
            cluster.describe()
        )
        cluster.start_dispatcher("beat-a", limit=50)
        cluster.start_dispatcher("beat-b", limit=50)
        assert wait_for(lambda: provider.delivered_count() >= MESSAGES // 3, seconds=20), (
            cluster.describe()
        )

        # Every pool process of both workers is now waiting for an answer to a text the
        # provider has delivered; the victim dies before it can record any of its own.
        provider.hold()
        assert wait_for(lambda: len(provider.held_keys) == 4, seconds=10), cluster.describe()
        cluster.kill("victim")
        # Delivered but not recorded as sent when the victim died: the texts of its batches,
        # the one it was waiting on and those sent before it (and the survivor's, recorded
        # once it has its answers). Only these may be asked for again.
        unrecorded = set(provider.delivered_keys()) - set(
            OutboxMessage.objects.filter(status=OutboxStatus.SENT).values_list(
                "idempotency_key", flat=True
            )
        )
        provider.release()

        assert wait_for(lambda: sent_count() == MESSAGES, seconds=SEND_SECONDS), (
            f"{sent_count()} of {MESSAGES} sent: {cluster.describe()}"
        )
        assert cluster.processes["victim"].returncode == -9
    finally:
        provider.release()
        cluster.stop()

    assert_each_sent_once(keys, provider)
    # The victim's texts (at least the two it was waiting on) were asked for again, with
    # their keys, and not delivered again.
    repeats = provider.repeats()
    assert len(repeats) >= 2
    assert set(repeats) <= unrecorded
