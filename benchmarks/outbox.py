"""How fast the outbox sends: 10,000 due texts through real Celery workers, exactly once.

The same set-up as tests/test_outbox_workers.py, bigger: a throwaway database, the Redis at
``REDIS_URL``, worker processes and racing dispatchers (tests/outbox_cluster.py), and the
fake SMS provider (tests/fake_sms.py). Prints messages per second, and fails if a text was
not sent or was delivered twice. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
BENCHMARK_DATABASE = "chairside_outbox_benchmark"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="pool size of each worker")
    parser.add_argument("--pool", default="prefork", choices=["prefork", "threads", "solo"])
    parser.add_argument("--beats", type=int, default=2, help="dispatchers racing each other")
    parser.add_argument(
        "--limit",
        type=int,
        default=1000,
        help="claimed and unsent at most, across the dispatchers (OUTBOX_DISPATCH_LIMIT)",
    )
    parser.add_argument(
        "--batch-size", type=int, default=200, help="texts per send task (OUTBOX_BATCH_SIZE)"
    )
    parser.add_argument("--lease", type=int, default=120, help="OUTBOX_LEASE_SECONDS")
    parser.add_argument("--timeout", type=float, default=900, help="give up after (seconds)")
    return parser.parse_args()


def main() -> int:
    options = arguments()
    if not os.environ.get("REDIS_URL"):
        print("Set REDIS_URL (e.g. redis://127.0.0.1:6379/0): the workers need Redis.")
        return 2
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_databases, teardown_databases

    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = BENCHMARK_DATABASE
    print(f"Creating the database {BENCHMARK_DATABASE} (migrations) ...", flush=True)
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        return run(options, connection)
    finally:
        connection.close()
        teardown_databases(old_config, verbosity=0)


def run(options: argparse.Namespace, connection) -> int:
    from clinic.models import OutboxMessage, OutboxStatus
    from tests.conftest import database_url
    from tests.fake_sms import FakeSmsProvider
    from tests.outbox_cluster import LOAD_KIND, OutboxCluster, due_texts, wait_for

    def sent() -> int:
        return OutboxMessage.objects.filter(kind=LOAD_KIND.name, status=OutboxStatus.SENT).count()

    with FakeSmsProvider() as provider, tempfile.TemporaryDirectory() as logs:
        cluster = OutboxCluster(
            database_url=database_url(connection.settings_dict),
            provider_url=provider.url,
            redis_url=os.environ["REDIS_URL"],
            log_dir=Path(logs),
            lease_seconds=options.lease,
            batch_size=options.batch_size,
        )
        try:
            for n in range(options.workers):
                cluster.start_worker(
                    f"worker-{n}", concurrency=options.concurrency, pool=options.pool
                )
            if not wait_for(lambda: cluster.workers_ready() == options.workers, seconds=60):
                print(f"The workers did not start:\n{cluster.describe()}")
                return 1
            for n in range(options.beats):
                cluster.start_dispatcher(f"beat-{n}", limit=options.limit)
            time.sleep(2)  # let the dispatchers start (they find nothing yet)

            keys = due_texts(options.messages)
            started = time.monotonic()
            done = wait_for(lambda: sent() == options.messages, seconds=options.timeout, step=0.2)
            seconds = time.monotonic() - started
        finally:
            cluster.stop()
        delivered = provider.delivered_keys()
        twice = sum(1 for count in delivered.values() if count > 1)
        missing = len(set(keys) - set(delivered))
        print(
            f"{sent()} of {options.messages} messages sent in {seconds:.1f} s: "
            f"{sent() / seconds:.0f} messages per second "
            f"({options.workers} workers x {options.concurrency} {options.pool}, "
            f"{options.beats} dispatchers, limit {options.limit}, batches of up to "
            f"{options.batch_size}; load average {os.getloadavg()[0]:.1f} on "
            f"{os.cpu_count()} cores)"
        )
        print(
            f"provider: {len(delivered)} delivered, {missing} missing, {twice} delivered twice, "
            f"{sum(provider.repeats().values())} repeated requests"
        )
        if not done or missing or twice:
            print(cluster.describe())
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
