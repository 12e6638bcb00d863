"""Real Celery workers and racing dispatchers around the outbox, for the exactly-once test
(tests/test_outbox_workers.py) and the benchmark (benchmarks/outbox.py).

``OutboxCluster`` starts processes as production runs them: ``celery worker`` processes
(prefork, acks_late) reading a queue of their own on the Redis at ``REDIS_URL``, and
"beats": processes that call ``outbox_dispatch`` in a loop, racing each other (a real beat
runs it once a minute, which would make a test wait). They use the database the caller
names and send texts to a ``FakeSmsProvider``. Each process is the leader of its own
process group, so ``kill`` takes a worker down with its pool, as a crash would.

Workers import this module (``--include``), so they know the message kind it registers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from celery.signals import worker_ready
from django.utils import timezone

from clinic.messaging.registry import MessageKind, Rendered, register
from clinic.models import OutboxChannel, OutboxMessage
from patients.models import Channel, CommunicationConsent, Patient, SexAtBirth

BASE_DIR = Path(__file__).resolve().parent.parent
READY_DIR_VARIABLE = "OUTBOX_CLUSTER_READY_DIR"


def _render(message: OutboxMessage) -> Rendered:
    return Rendered(body=f"Chairside test message {message.context.get('n', 0)}.")


# Urgent and uncapped: quiet hours and the daily caps would hold most of 1,000 texts to one
# patient; consent is still checked (the patient gives it).
LOAD_KIND = register(
    MessageKind(
        name="outbox_load_test",
        render=_render,
        urgent=True,
        capped=False,
        description="Load and crash tests of the outbox.",
    )
)


@worker_ready.connect
def _tell_the_cluster_this_worker_is_ready(sender: object = None, **kwargs: object) -> None:
    folder = os.environ.get(READY_DIR_VARIABLE)
    if folder:
        Path(folder, str(getattr(sender, "hostname", "worker"))).touch()


def due_texts(count: int, *, run: str | None = None) -> list[str]:
    """``count`` due texts to one patient who agreed to texts; returns their keys."""
    run = run or uuid.uuid4().hex[:8]
    patient = Patient.objects.create(
        legal_first_name="Load",
        legal_last_name="Test",
        date_of_birth="1980-01-01",
        sex_at_birth=SexAtBirth.FEMALE,
        mobile="+12125550199",
    )
    CommunicationConsent.objects.create(
        patient=patient, channel=Channel.SMS, granted=True, method="load test"
    )
    now = timezone.now()
    keys = [f"load:{run}:{n}:sms" for n in range(count)]
    OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(
                idempotency_key=key,
                kind=LOAD_KIND.name,
                channel=OutboxChannel.SMS,
                patient=patient,
                urgent=True,
                context={"n": n},
                not_before=now,
            )
            for n, key in enumerate(keys)
        ],
        batch_size=1000,
    )
    return keys


def dispatch_forever(*, limit: int, interval: float) -> None:
    """A "beat" that does not wait a minute: claim and queue, again and again. A run that
    fails (Redis or PostgreSQL is down) is reported and the next one tries again, as beat
    would run the task again a minute later."""
    from django.db import connection

    from clinic.messaging.dispatch import outbox_dispatch

    while True:
        try:
            outbox_dispatch(limit=limit)
        except Exception as exc:
            print(f"dispatch failed: {type(exc).__name__}: {exc}", flush=True)
            connection.close()
            time.sleep(0.5)
        time.sleep(interval)


_DISPATCHER = (
    "import django; django.setup(); from tests.outbox_cluster import dispatch_forever; "
    "dispatch_forever(limit={limit}, interval={interval})"
)


@dataclass
class OutboxCluster:
    database_url: str
    provider_url: str
    redis_url: str
    log_dir: Path
    lease_seconds: int = 60
    sms_timeout_seconds: int = 10
    retry_base_seconds: int = 1
    batch_size: int = 200
    queue: str = field(default_factory=lambda: f"outbox-test-{uuid.uuid4().hex[:12]}")
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        from django.conf import settings

        environ = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DATABASE_URL", "REDIS_URL", "SMS_", "OUTBOX_"))
        }
        return environ | {
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "CHAIRSIDE_DATA_DIR": str(settings.DATA_DIR),
            "CELERY_QUEUE": self.queue,
            "CELERY_SKIP_CHECKS": "1",
            "LOG_LEVEL": "WARNING",
            "SMS_BACKEND": "http",
            "SMS_API_URL": self.provider_url,
            "SMS_API_TOKEN": "outbox-cluster",
            "SMS_FROM_NUMBER": "+15550100",
            "SMS_WEBHOOK_SECRET": "outbox-cluster",
            "SMS_TIMEOUT_SECONDS": str(self.sms_timeout_seconds),
            "OUTBOX_LEASE_SECONDS": str(self.lease_seconds),
            "OUTBOX_RETRY_BASE_SECONDS": str(self.retry_base_seconds),
            "OUTBOX_RETRY_MAX_SECONDS": "5",
            "OUTBOX_BATCH_SIZE": str(self.batch_size),
            READY_DIR_VARIABLE: str(self.log_dir / "ready"),
        }

    def _start(self, name: str, command: list[str]) -> None:
        (self.log_dir / "ready").mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.log").open("wb") as log:
            self.processes[name] = subprocess.Popen(
                command,
                cwd=BASE_DIR,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() takes the pool too
            )

    def start_worker(self, name: str, *, concurrency: int = 2, pool: str = "prefork") -> None:
        self._start(
            name,
            [
                sys.executable, "-m", "celery", "-A", "clinic", "worker",
                "--queues", self.queue, "--pool", pool, "--concurrency", str(concurrency),
                "--include", "tests.outbox_cluster",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--loglevel", "WARNING", "--hostname", f"{name}-{self.queue}@%h",
            ],
        )  # fmt: skip

    def start_dispatcher(self, name: str, *, limit: int = 100, interval: float = 0.2) -> None:
        code = _DISPATCHER.format(limit=limit, interval=interval)
        self._start(name, [sys.executable, "-c", code])

    def run_python(self, code: str) -> str:
        """Run ``code`` in a new process set up as the workers are (their database); returns
        what it printed. For a database the test's own connection does not reach."""
        done = subprocess.run(
            [sys.executable, "-c", f"import django; django.setup(); {code}"],
            cwd=BASE_DIR,
            env=self.environment(),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout

    def workers_ready(self) -> int:
        return len(list((self.log_dir / "ready").iterdir()))

    def kill(self, name: str) -> None:
        """SIGKILL the process and everything it started (a worker and its pool)."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
        self._forget_the_queue()

    def _forget_the_queue(self) -> None:
        """Remove this run's queue from Redis, with the tasks a killed worker held (kombu
        would hand them back to the queue after its visibility timeout, an hour later)."""
        import redis

        server = redis.Redis.from_url(self.redis_url)
        server.delete(self.queue)
        for tag, value in server.hgetall("unacked").items():
            try:
                _message, _exchange, routing_key = json.loads(value)
            except ValueError:
                continue
            if routing_key == self.queue:
                server.hdel("unacked", tag)
                server.zrem("unacked_index", tag)

    def describe(self) -> str:
        """Each process's state and the end of its log, for a failure message."""
        lines = []
        for name, process in self.processes.items():
            state = "running" if process.poll() is None else f"exited {process.returncode}"
            tail = (self.log_dir / f"{name}.log").read_text(errors="replace")[-1500:]
            lines.append(f"--- {name} ({state}):\n{tail}")
        return "\n".join(lines)


def wait_for(condition: Callable[[], bool], *, seconds: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()
