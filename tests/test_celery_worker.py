"""A real Celery worker, started as its own process, runs tasks against the test database.

The worker gets the test database's URL and the test process's broker (Redis when
``REDIS_URL`` is set, else the filesystem broker in the same ``DATA_DIR``), and
listens on a queue named for this test session only, so a `make run` worker on the
same machine, or another test run, never takes these tasks (or hands us theirs).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings

from clinic.celery import app
from clinic.models import Heartbeat, User
from clinic.roles import Role
from clinic.tasks import record_heartbeat
from interop.fhir.bulk import export_directory, run_fhir_export
from interop.models import ExportJob, ExportStatus
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.worker

BASE_DIR = Path(__file__).resolve().parent.parent
WAIT_SECONDS = 30


@dataclass
class Worker:
    process: subprocess.Popen
    queue: str
    log: Path

    def describe(self) -> str:
        state = "running" if self.process.poll() is None else f"exited {self.process.returncode}"
        tail = self.log.read_text(errors="replace")[-3000:]
        return f"worker {state}; its log ends:\n{tail}"


@pytest.fixture(scope="session")
def celery_worker(test_database_url: str, tmp_path_factory) -> Iterator[Worker]:
    """Start one worker for the session, consuming a queue of its own."""
    queue = f"test-{uuid.uuid4().hex[:12]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": test_database_url,
        "CHAIRSIDE_DATA_DIR": str(settings.DATA_DIR),
        "CELERY_QUEUE": queue,
    }
    env.pop("DATABASE_URL_FILE", None)
    log = tmp_path_factory.mktemp("celery") / "worker.log"
    with log.open("wb") as output:
        worker = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "clinic", "worker",
                "--queues", queue, "--pool", "solo", "--concurrency", "1",
                "--without-gossip", "--without-mingle", "--without-heartbeat",
                "--loglevel", "INFO", "--hostname", f"{queue}@%h",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        yield Worker(process=worker, queue=queue, log=log)
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=10)


def wait_for(condition: Callable[[], bool], *, seconds: float = WAIT_SECONDS) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_records_a_heartbeat(celery_worker: Worker):
    name = f"worker-{uuid.uuid4().hex[:8]}"

    record_heartbeat.apply_async(args=[name], queue=celery_worker.queue)

    assert wait_for(lambda: Heartbeat.objects.filter(name=name).exists()), (
        f"No heartbeat within {WAIT_SECONDS} s: {celery_worker.describe()}"
    )


def test_beat_sends_the_heartbeat_every_minute():
    entry = app.conf.beat_schedule["heartbeat"]

    assert entry["task"] == "clinic.tasks.record_heartbeat"
    assert entry["schedule"].total_seconds() <= 60


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_a_fhir_bulk_export(celery_worker: Worker):
    PatientFactory.create_batch(3)
    admin = User.objects.create_user(
        "export-admin@clinic.test", "x", full_name="Export Admin", roles=[Role.CLINIC_ADMIN]
    )
    job = ExportJob.objects.create(requested_by=admin, resource_types=["Patient"])
    try:
        run_fhir_export.apply_async(args=[job.pk], queue=celery_worker.queue)

        assert wait_for(
            lambda: ExportJob.objects.get(pk=job.pk).status == ExportStatus.COMPLETED
        ), f"The export did not finish within {WAIT_SECONDS} s: {celery_worker.describe()}"
        lines = (export_directory(job) / "Patient.ndjson").read_text().splitlines()
        assert [json.loads(line)["resourceType"] for line in lines] == ["Patient"] * 3
    finally:
        shutil.rmtree(export_directory(job), ignore_errors=True)
