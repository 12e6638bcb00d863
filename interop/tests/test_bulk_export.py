"""The clinic-wide export in the FHIR Bulk Data style: kick-off, status, files, cancel;
for the clinic admin who asked, audited, run by the worker's task in batches."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.utils import timezone

from clinic.models import AuditEvent
from clinic.roles import Role
from conftest import make_staff
from interop.fhir import bulk
from interop.models import ExportJob, ExportStatus
from interop.tests.conftest import given_infusion, valid
from patients.models import Patient
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

KICK_OFF = "/fhir/R4/$export"
ASYNC = {"HTTP_PREFER": "respond-async"}


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path) -> Path:
    settings.FHIR_EXPORT_DIR = tmp_path / "exports"
    return settings.FHIR_EXPORT_DIR


@pytest.fixture
def worker(monkeypatch, django_capture_on_commit_callbacks):
    """Queued exports run when the transaction commits, as the worker would run them."""
    monkeypatch.setattr(bulk.run_fhir_export, "delay", bulk.run_fhir_export)
    return lambda: django_capture_on_commit_callbacks(execute=True)


def kick_off(client, query: str = ""):
    return client.get(KICK_OFF + query, **ASYNC)


def path_of(url: str) -> str:
    return url.removeprefix("http://testserver")


def lines_of(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return [json.loads(line) for line in body.splitlines()]


@pytest.fixture
def treated(nina, phil, amara, riverside, lot):
    given_infusion(nina, phil, amara, riverside, lot)
    return amara


def test_an_admin_exports_every_resource_type_and_downloads_the_files(
    client, alice, treated, worker
):
    client.force_login(alice)

    with worker():
        response = kick_off(client)

    assert response.status_code == 202
    status = path_of(response["Content-Location"])
    assert status.startswith("/fhir/R4/$export-status/")
    answer = client.get(status)
    assert answer.status_code == 200
    assert answer["Content-Type"] == "application/json"
    manifest = answer.json()
    assert manifest["requiresAccessToken"] is True
    assert manifest["request"] == "http://testserver/fhir/R4/$export"
    assert manifest["transactionTime"].endswith("+00:00")
    assert [item["type"] for item in manifest["output"]] == sorted(bulk.EXPORT_TYPES)
    for item in manifest["output"]:
        download = client.get(path_of(item["url"]))
        assert download.status_code == 200
        assert download["Content-Type"] == "application/fhir+ndjson"
        resources = lines_of(download)
        assert len(resources) == item["count"]
        for resource in resources:
            assert resource["resourceType"] == item["type"]
            valid(resource)
    downloads = AuditEvent.objects.filter(summary__startswith="downloaded")
    assert downloads.count() == len(manifest["output"])
    assert AuditEvent.objects.filter(
        action=AuditEvent.Action.EXPORT, summary__startswith="started a FHIR bulk export"
    ).exists()


def test_while_it_runs_the_status_says_how_far_it_is(client, alice, treated):
    client.force_login(alice)
    status = path_of(kick_off(client)["Content-Location"])

    queued = client.get(status)

    assert queued.status_code == 202
    assert queued["X-Progress"] == "0%"
    assert queued["Retry-After"] == "10"
    ExportJob.objects.update(status=ExportStatus.RUNNING, progress=42, current_step="Measurement")
    assert client.get(status)["X-Progress"] == "42% (Measurement)"


def test_it_asks_for_the_async_header_and_refuses_what_it_does_not_support(client, alice):
    client.force_login(alice)

    plain = client.get(KICK_OFF)
    since = kick_off(client, "?_since=2026-01-01T00:00:00Z")
    unknown_type = kick_off(client, "?_type=Patient,Encounter")
    csv = kick_off(client, "?_outputFormat=text/csv")

    assert plain.status_code == 400
    assert "Prefer: respond-async" in valid(plain.json()).issue[0].diagnostics
    assert since.status_code == 400 and "_since" in since.json()["issue"][0]["diagnostics"]
    assert "Encounter" in unknown_type.json()["issue"][0]["diagnostics"]
    assert csv.status_code == 400
    assert not ExportJob.objects.exists()


def test_it_exports_only_the_types_asked_for(client, alice, treated, worker):
    client.force_login(alice)

    with worker():
        status = path_of(kick_off(client, "?_type=Patient,Consent")["Content-Location"])

    manifest = client.get(status).json()
    assert [item["type"] for item in manifest["output"]] == ["Consent", "Patient"]
    assert manifest["request"].endswith("?_type=Patient,Consent")


@pytest.mark.parametrize("persona", ["fran", "nina", "phil", "edie"])
def test_only_a_clinic_admin_may_start_one(request, client, persona):
    client.force_login(request.getfixturevalue(persona))

    response = kick_off(client)

    assert response.status_code == 403
    assert response.json()["issue"][0]["code"] == "forbidden"
    assert not ExportJob.objects.exists()


def test_without_credentials_it_is_a_401(client, db):
    assert kick_off(client).status_code == 401


def test_another_admin_sees_nothing_of_my_export(client, alice, treated, worker):
    client.force_login(alice)
    with worker():
        status = path_of(kick_off(client)["Content-Location"])
    file_url = path_of(client.get(status).json()["output"][0]["url"])
    other = make_staff("ada@clinic.test", "Ada Admin", Role.CLINIC_ADMIN)
    client.force_login(other)

    assert client.get(status).status_code == 404
    assert client.get(file_url).status_code == 404
    assert client.delete(status).status_code == 404
    assert ExportJob.objects.get().status == ExportStatus.COMPLETED


def test_one_export_runs_at_a_time(client, alice, db):
    client.force_login(alice)
    kick_off(client)

    second = kick_off(client)

    assert second.status_code == 409
    assert "already under way" in second.json()["issue"][0]["diagnostics"]
    assert ExportJob.objects.count() == 1


def test_delete_on_the_status_url_cancels_and_removes_the_files(
    client, alice, treated, worker, export_dir
):
    client.force_login(alice)
    with worker():
        status = path_of(kick_off(client)["Content-Location"])
    job = ExportJob.objects.get()
    assert any((export_dir / str(job.public_id)).iterdir())

    with worker():
        response = client.delete(status)

    assert response.status_code == 202
    assert client.get(status).status_code == 404
    assert not (export_dir / str(job.public_id)).exists()
    job.refresh_from_db()
    assert job.status == ExportStatus.CANCELLED
    assert not job.files.exists()
    assert AuditEvent.objects.filter(action=AuditEvent.Action.DELETE).exists()


def test_a_job_cancelled_while_running_stops_after_its_batch(
    client, alice, monkeypatch, worker, export_dir
):
    PatientFactory.create_batch(5)
    monkeypatch.setattr(bulk, "BATCH", 2)
    report = bulk._report
    seen = []

    def cancel_after_the_first_batch(job, done, total, step):
        seen.append(done)
        if done >= 2:
            ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.CANCELLED)
        report(job, done, total, step)

    monkeypatch.setattr(bulk, "_report", cancel_after_the_first_batch)
    client.force_login(alice)

    with worker():
        kick_off(client)

    job = ExportJob.objects.get()
    assert job.status == ExportStatus.CANCELLED
    assert seen == [0, 2]
    assert not (export_dir / str(job.public_id)).exists()
    assert not job.files.exists()


def test_progress_is_recorded_after_each_batch(client, alice, monkeypatch, worker):
    PatientFactory.create_batch(5)
    monkeypatch.setattr(bulk, "BATCH", 2)
    report = bulk._report
    progress = []

    def record(job, done, total, step):
        report(job, done, total, step)
        progress.append(ExportJob.objects.get(pk=job.pk).progress)

    monkeypatch.setattr(bulk, "_report", record)
    client.force_login(alice)

    with worker():
        kick_off(client, "?_type=Patient")

    assert progress == sorted(progress) and len(progress) > 2
    job = ExportJob.objects.get()
    assert (job.status, job.progress) == (ExportStatus.COMPLETED, 100)
    assert job.files.get().count == 5


def test_a_failed_export_says_so_keeps_no_file_and_leaks_nothing(
    client, alice, treated, monkeypatch, worker, export_dir
):
    def broken(patient):
        raise RuntimeError(f"cannot write {patient.legal_last_name}")

    monkeypatch.setattr(bulk, "patient_resource", broken)
    client.force_login(alice)

    with worker():
        status = path_of(kick_off(client)["Content-Location"])

    answer = client.get(status)
    assert answer.status_code == 500
    message = valid(answer.json()).issue[0].diagnostics
    assert "RuntimeError" in message and "Osei" not in message
    job = ExportJob.objects.get()
    assert job.status == ExportStatus.FAILED
    assert not (export_dir / str(job.public_id)).exists()
    # A new one may start.
    assert kick_off(client).status_code == 202


def stall(job: ExportJob, minutes: int) -> None:
    """The job last moved ``minutes`` ago (its worker died then)."""
    ExportJob.objects.filter(pk=job.pk).update(moved_at=timezone.now() - timedelta(minutes=minutes))


@pytest.mark.parametrize("status", [ExportStatus.QUEUED, ExportStatus.RUNNING])
def test_an_export_whose_worker_died_fails_and_a_new_one_can_start(client, alice, settings, status):
    settings.FHIR_EXPORT_STALL_MINUTES = 15
    client.force_login(alice)
    old_status = path_of(kick_off(client)["Content-Location"])
    old = ExportJob.objects.get()
    ExportJob.objects.filter(pk=old.pk).update(status=status)
    stall(old, 16)

    answer = client.get(old_status)

    assert answer.status_code == 500
    assert "stopped making progress" in valid(answer.json()).issue[0].diagnostics
    old.refresh_from_db()
    assert old.status == ExportStatus.FAILED and old.finished_at is not None
    assert kick_off(client).status_code == 202
    assert ExportJob.objects.filter(status=ExportStatus.QUEUED).count() == 1


def test_an_export_that_moved_recently_is_left_running(client, alice, settings):
    settings.FHIR_EXPORT_STALL_MINUTES = 15
    client.force_login(alice)
    status = path_of(kick_off(client)["Content-Location"])
    job = ExportJob.objects.get()
    ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.RUNNING)
    stall(job, 14)

    assert client.get(status).status_code == 202
    assert kick_off(client).status_code == 409
    page = client.get("/staff/data-export/")
    assert "An export is under way" in page.text
    job.refresh_from_db()
    assert job.status == ExportStatus.RUNNING


def test_the_export_page_shows_a_dead_workers_export_as_failed(client, alice, settings):
    settings.FHIR_EXPORT_STALL_MINUTES = 15
    client.force_login(alice)
    kick_off(client)
    stall(ExportJob.objects.get(), 20)

    page = client.get("/staff/data-export/")

    assert "stopped making progress" in page.text
    assert "An export is under way" not in page.text


def test_a_worker_that_wakes_after_its_export_was_failed_keeps_no_file(
    client, alice, monkeypatch, worker, export_dir
):
    PatientFactory.create_batch(5)
    monkeypatch.setattr(bulk, "BATCH", 2)
    report = bulk._report

    def paused_past_the_stall(job, done, total, step):
        if done >= 2:  # meanwhile, another admin's page found the job stalled
            stall(job, 60)
            bulk.export_fail_stalled()
        report(job, done, total, step)

    monkeypatch.setattr(bulk, "_report", paused_past_the_stall)
    client.force_login(alice)

    with worker():
        kick_off(client, "?_type=Patient")

    job = ExportJob.objects.get()
    assert job.status == ExportStatus.FAILED
    assert not (export_dir / str(job.public_id)).exists()
    assert not job.files.exists()


def test_a_task_delivered_twice_writes_once(client, alice, treated, worker):
    client.force_login(alice)
    with worker():
        kick_off(client)
    job = ExportJob.objects.get()

    assert bulk.fhir_export_run(job.pk) == ExportStatus.COMPLETED
    assert job.files.count() == len(bulk.EXPORT_TYPES)


def test_the_demo_clinic_exports_valid_fhir_with_two_component_blood_pressures(
    settings, client, alice, worker
):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    client.force_login(alice)

    with worker():
        status = path_of(kick_off(client)["Content-Location"])

    manifest = client.get(status).json()
    resources = [
        resource
        for item in manifest["output"]
        for resource in lines_of(client.get(path_of(item["url"])))
    ]
    for resource in resources:
        valid(resource)
    pressures = [
        resource
        for resource in resources
        if resource["resourceType"] == "Observation"
        and resource["code"]["coding"][0]["code"] == "85354-9"
    ]
    assert pressures
    assert all(len(pressure["component"]) == 2 for pressure in pressures)
    assert sum(resource["resourceType"] == "Patient" for resource in resources) == (
        Patient.objects.count()
    )
