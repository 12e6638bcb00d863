"""Exactly once through a Redis restart and a PostgreSQL restart, with real workers.

As in tests/test_outbox_workers.py, 1,000 due texts go out through two worker processes
while two "beats" claim and queue them; but here the server that goes down mid-run is one
of the test's own (tests/private_servers.py), since the machine's shared Redis and
PostgreSQL serve other tests at the same time:

- Redis is killed (it keeps nothing on disk: every queued task is lost) and started again
  on the same port. The claims whose tasks were lost are taken over when their leases run
  out; the dispatchers' runs that could not queue fail and the next ones go on.
- PostgreSQL (a private server holding the database the workers and dispatchers use) is
  shut down immediately while every worker process is in the middle of a batch, waiting
  for the provider's answer to a text it has delivered. Those batches roll back: their
  rows are still "sending" under claims whose leases run out, so they are claimed and sent
  again once the server is back, with the same idempotency keys, and the provider delivers
  none of them twice.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from clinic.models import OutboxStatus
from tests.fake_sms import FakeSmsProvider
from tests.outbox_cluster import LOAD_KIND, OutboxCluster, due_texts, wait_for
from tests.private_servers import PrivatePostgres, PrivateRedis
from tests.test_outbox_workers import assert_each_sent_once, sent_count

pytestmark = [pytest.mark.worker]

MESSAGES = 1000
START_SECONDS = 30
SEND_SECONDS = 90
WORKER_PROCESSES = 4  # two workers, two pool processes each


@pytest.fixture
def provider() -> Iterator[FakeSmsProvider]:
    with FakeSmsProvider() as fake:
        yield fake


def start(cluster: OutboxCluster) -> None:
    cluster.start_worker("worker-a")
    cluster.start_worker("worker-b")
    assert wait_for(lambda: cluster.workers_ready() == 2, seconds=START_SECONDS), cluster.describe()
    cluster.start_dispatcher("beat-a", limit=100)
    cluster.start_dispatcher("beat-b", limit=100)


@pytest.mark.redis_server
@pytest.mark.django_db(transaction=True)
def test_a_redis_restart_mid_run_loses_nothing_and_sends_nothing_twice(
    test_database_url, provider, tmp_path
):
    keys = due_texts(MESSAGES)
    redis_server = PrivateRedis(tmp_path).start()
    # A short lease, so the claims whose tasks Redis lost are taken over within the test.
    cluster = OutboxCluster(
        database_url=test_database_url,
        provider_url=provider.url,
        redis_url=redis_server.url,
        log_dir=tmp_path,
        lease_seconds=6,
        sms_timeout_seconds=3,
    )
    try:
        start(cluster)
        assert wait_for(lambda: provider.delivered_count() >= MESSAGES // 3, seconds=30), (
            cluster.describe()
        )

        redis_server.kill()
        time.sleep(2)  # down for a moment: the dispatchers' runs fail meanwhile
        redis_server.start()

        assert wait_for(lambda: sent_count() == MESSAGES, seconds=SEND_SECONDS), (
            f"{sent_count()} of {MESSAGES} sent: {cluster.describe()}"
        )
    finally:
        cluster.stop()
        redis_server.stop()

    assert_each_sent_once(keys, provider)


# --- PostgreSQL ---------------------------------------------------------------------------

DATABASE = "chairside_outbox_restart"


def outbox_rows(database_url: str) -> dict[str, tuple[str, str]]:
    """The load test's rows in the private database: key -> (status, provider reference)."""
    with psycopg.connect(database_url, connect_timeout=5) as connection:
        rows = connection.execute(
            "SELECT idempotency_key, status, provider_reference FROM clinic_outboxmessage "
            "WHERE kind = %s",
            [LOAD_KIND.name],
        ).fetchall()
    return {key: (status, reference) for key, status, reference in rows}


def sent_in(database_url: str) -> int:
    try:
        rows = outbox_rows(database_url)
    except psycopg.OperationalError:  # down, or still starting
        return -1
    return sum(1 for status, _reference in rows.values() if status == OutboxStatus.SENT)


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    # Not under pytest's tmp_path: every pytest run on the machine makes its parent folder
    # private to root again, and the server runs as another user (pgserver's, under root).
    folder = Path(tempfile.mkdtemp(prefix="chairside-postgres-"))
    server = PrivatePostgres(folder / "data")
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.redis
def test_a_postgresql_restart_mid_batch_loses_nothing_and_sends_nothing_twice(
    postgres, provider, tmp_path
):
    with psycopg.connect(postgres.url(), autocommit=True) as connection:
        connection.execute(f"CREATE DATABASE {DATABASE}")
    database_url = postgres.url(DATABASE)
    cluster = OutboxCluster(
        database_url=database_url,
        provider_url=provider.url,
        redis_url=os.environ["REDIS_URL"],
        log_dir=tmp_path / "logs",
        lease_seconds=6,
        sms_timeout_seconds=3,
    )
    (tmp_path / "logs").mkdir()
    cluster.run_python("from django.core.management import call_command; call_command('migrate')")
    keys = json.loads(
        cluster.run_python(
            "import json; from tests.outbox_cluster import due_texts; "
            f"print(json.dumps(due_texts({MESSAGES})))"
        ).splitlines()[-1]
    )
    try:
        start(cluster)
        assert wait_for(lambda: provider.delivered_count() >= MESSAGES // 3, seconds=30), (
            cluster.describe()
        )

        # Every worker process is now waiting for the answer to a text the provider has
        # delivered, inside its batch's transaction; the database goes down under them.
        provider.hold()
        assert wait_for(lambda: len(provider.held_keys) == WORKER_PROCESSES, seconds=10), (
            cluster.describe()
        )
        postgres.crash()
        in_flight = set(provider.held_keys)
        provider.release()
        time.sleep(1)  # down for a moment: the batches fail to record what they sent
        postgres.start()

        assert wait_for(lambda: sent_in(database_url) == MESSAGES, seconds=SEND_SECONDS), (
            f"{sent_in(database_url)} of {MESSAGES} sent: {cluster.describe()}"
        )
    finally:
        provider.release()
        cluster.stop()

    rows = outbox_rows(database_url)
    assert set(rows) == set(keys)
    delivered = provider.delivered_keys()
    assert set(delivered) == set(keys), "a text was never delivered, or one was made up"
    assert max(delivered.values()) == 1, "a text was delivered twice"
    references = {d.idempotency_key: d.reference for d in provider.deliveries}
    assert {key: reference for key, (_status, reference) in rows.items()} == references
    # The texts whose batches the crash rolled back were asked for again, with their keys,
    # and not delivered again.
    assert in_flight <= set(provider.repeats())
    assert Counter(status for status, _reference in rows.values()) == {OutboxStatus.SENT: MESSAGES}
