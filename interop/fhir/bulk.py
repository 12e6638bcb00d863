"""The clinic-wide export in the FHIR Bulk Data style: a clinic admin starts a job, the
worker writes one NDJSON file per resource type, the admin who asked downloads them.

The job reads every table in batches (``BATCH`` rows from a server-side cursor, one line
written per resource), so memory stays the same however large the clinic; after each batch
it records its progress and stops if the job was cancelled meanwhile. Files go under
``settings.FHIR_EXPORT_DIR / <job public id>`` and are removed when the job is cancelled or
fails.

A worker can die mid-export (killed, the machine restarted) and leave its job "running"
for ever, which would block every later export (one runs at a time). The running job
records a heartbeat after each batch; ``fhir_exports_fail_stale`` (every five minutes from
beat, and before each new export starts) marks failed a running job silent for longer than
``FHIR_EXPORT_STALE_MINUTES``, or a queued one no worker took in that time, and deletes its
files. Should the worker come back to life, its next progress report finds the job no
longer running and it stops, as after a cancel. The admin then starts a new export.
"""

from __future__ import annotations

import json
import logging
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import IO, Any

from celery import shared_task
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import User
from clinic.permissions import Capability, require, user_can
from infusions.models import DoseAdministration, EsketamineDevice, VitalsReading
from interop.fhir import codes
from interop.fhir.care import (
    appointment_resource,
    esketamine_administration_resource,
    medication_administration_resource,
)
from interop.fhir.common import JSON
from interop.fhir.everything import contact_consents_in_order
from interop.fhir.observations import (
    body_height_observation,
    measurement_vital_signs,
    reading_vital_signs,
    survey_resources,
    vital_sign_observations,
)
from interop.fhir.patient import (
    condition_resources,
    contact_consent_resource,
    diagnosis_codes,
    patient_resource,
    treatment_consent_resource,
)
from interop.models import EXPORT_UNDER_WAY, ExportFile, ExportJob, ExportStatus
from patients.models import (
    CommunicationConsent,
    ConsentSignature,
    Measurement,
    Patient,
    QuestionnaireResponse,
)
from scheduling.models import Appointment

logger = logging.getLogger(__name__)

# Every resource type the export writes, in the order of its manifest.
EXPORT_TYPES = (
    "Patient",
    "Condition",
    "Observation",
    "QuestionnaireResponse",
    "Appointment",
    "MedicationAdministration",
    "Consent",
)
BATCH = 500
AUDIT_TYPE = "interop.exportjob"
ALREADY_UNDER_WAY = (
    "An export is already under way. Wait for it to finish, or cancel it, before you start "
    "another one."
)


# --- Access ------------------------------------------------------------------------------


def export_jobs_visible_to(user: Any) -> QuerySet[ExportJob]:
    """The exports ``user`` started: the files hold every patient's record, so each is for
    the admin who asked only."""
    if not user_can(user, Capability.EXPORT_CLINIC_DATA):
        return ExportJob.objects.none()
    return ExportJob.objects.filter(requested_by=user)


def export_job_for(user: Any, public_id: uuid.UUID | str) -> ExportJob:
    """The export ``user`` started; 403 without the capability, 404 for anyone else's."""
    require(user, Capability.EXPORT_CLINIC_DATA)
    try:
        return export_jobs_visible_to(user).prefetch_related("files").get(public_id=public_id)
    except (ExportJob.DoesNotExist, ValueError, ValidationError):
        raise Http404("No such export.") from None


def export_directory(job: ExportJob) -> Path:
    return Path(settings.FHIR_EXPORT_DIR) / str(job.public_id)


def export_file_path(job: ExportJob, export_file: ExportFile) -> Path:
    return export_directory(job) / export_file.file_name


def requested_types(value: str) -> list[str]:
    """The resource types of a ``_type`` parameter ("Patient,Observation"); empty: all.
    Raises ValidationError naming any type the export does not write."""
    wanted = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in wanted if name not in EXPORT_TYPES]
    if unknown:
        raise ValidationError(
            f"This server does not export {', '.join(unknown)}. Ask for any of "
            f"{', '.join(EXPORT_TYPES)}, separated by commas, or leave _type out for all."
        )
    return [name for name in EXPORT_TYPES if name in wanted]


# --- Starting and cancelling --------------------------------------------------------------


def fhir_export_start(
    *, actor: User, resource_types: Iterable[str] = (), request: HttpRequest | None = None
) -> ExportJob:
    """Queue an export of every patient's record for the worker; one at a time."""
    require(actor, Capability.EXPORT_CLINIC_DATA)
    types = list(resource_types)
    fhir_exports_fail_stale()
    with transaction.atomic():
        if ExportJob.objects.filter(status__in=EXPORT_UNDER_WAY).exists():
            raise ValidationError(ALREADY_UNDER_WAY, code="under_way")
        try:
            with transaction.atomic():
                job = ExportJob.objects.create(requested_by=actor, resource_types=types)
        except IntegrityError:  # another admin started one at the same moment
            raise ValidationError(ALREADY_UNDER_WAY, code="under_way") from None
        audit_record(
            actor=actor,
            action=Action.EXPORT,
            object_type=AUDIT_TYPE,
            object_id=str(job.public_id),
            summary="started a FHIR bulk export of every patient's record"
            + (f" ({', '.join(types)})" if types else ""),
            request=request,
        )
        transaction.on_commit(partial(run_fhir_export.delay, job.pk))
    return job


def fhir_export_cancel(*, actor: User, job: ExportJob, request: HttpRequest | None = None) -> None:
    """Stop an export under way (the worker stops after its current batch), or withdraw a
    finished one; either way its files are deleted. A cancelled job stays cancelled."""
    require(actor, Capability.EXPORT_CLINIC_DATA)
    with transaction.atomic():
        locked = ExportJob.objects.select_for_update().get(pk=job.pk)
        if locked.status == ExportStatus.CANCELLED:
            return
        locked.status = ExportStatus.CANCELLED
        locked.finished_at = locked.finished_at or timezone.now()
        locked.save(update_fields=["status", "finished_at"])
        locked.files.all().delete()
        audit_record(
            actor=actor,
            action=Action.DELETE,
            object_type=AUDIT_TYPE,
            object_id=str(locked.public_id),
            summary="cancelled a FHIR bulk export and deleted its files",
            request=request,
        )
        transaction.on_commit(partial(_remove_files, locked))
    job.refresh_from_db()


@shared_task(name="interop.tasks.fail_stale_fhir_exports")
def fail_stale_fhir_exports() -> int:
    """Beat's side: ``fhir_exports_fail_stale``; returns how many jobs it failed."""
    return fhir_exports_fail_stale()


def fhir_exports_fail_stale() -> int:
    """Mark failed, and delete the files of, every export whose worker is gone: running with
    no heartbeat for ``FHIR_EXPORT_STALE_MINUTES``, or queued that long without a worker
    taking it. Returns how many. Safe to run at any time and from several processes."""
    minutes = settings.FHIR_EXPORT_STALE_MINUTES
    now = timezone.now()
    cutoff = now - timedelta(minutes=minutes)
    gone = ExportJob.objects.filter(
        Q(status=ExportStatus.RUNNING, heartbeat_at__lt=cutoff)
        | Q(status=ExportStatus.RUNNING, heartbeat_at__isnull=True, started_at__lt=cutoff)
        | Q(status=ExportStatus.QUEUED, requested_at__lt=cutoff)
    )
    # Nearly always none: one query, no transaction (the export page asks on every view).
    if not gone.exists():
        return 0
    failed = 0
    with transaction.atomic():
        stale = list(gone.select_for_update(skip_locked=True))
        for job in stale:
            if job.status == ExportStatus.RUNNING:
                job.error = (
                    f"The export stopped: the worker writing it gave no sign of life for "
                    f"{minutes} minutes (it may have been restarted). No file was kept. "
                    "Start a new export."
                )
            else:
                job.error = (
                    f"The export never started: no worker took it within {minutes} minutes. "
                    "Check that the background worker is running, then start a new export."
                )
            job.status = ExportStatus.FAILED
            job.finished_at = now
            job.save(update_fields=["status", "error", "finished_at"])
            logger.warning("FHIR export %s marked failed: its worker is gone", job.public_id)
            transaction.on_commit(partial(_remove_files, job))
            failed += 1
    return failed


def _remove_files(job: ExportJob) -> None:
    shutil.rmtree(export_directory(job), ignore_errors=True)


# --- Running ------------------------------------------------------------------------------


@shared_task(name="interop.tasks.run_fhir_export")
def run_fhir_export(job_id: int) -> str:
    """The worker's side: run the job (``fhir_export_run``); returns its status."""
    return fhir_export_run(job_id)


class _Cancelled(Exception):
    pass


def fhir_export_run(job_id: int) -> str:
    """Write the job's files. Runs only a queued job, so a task delivered twice writes once;
    returns the job's status when done."""
    with transaction.atomic():
        job = ExportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.status != ExportStatus.QUEUED:
            return job.status if job else "missing"
        job.status = ExportStatus.RUNNING
        job.started_at = job.heartbeat_at = timezone.now()
        job.save(update_fields=["status", "started_at", "heartbeat_at"])
    directory = export_directory(job)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        counts = _write_files(job, directory)
    except _Cancelled:
        shutil.rmtree(directory, ignore_errors=True)
        return ExportStatus.CANCELLED
    except Exception as error:
        # The message may quote a value; the log and the job say only what kind of error.
        logger.error("FHIR export %s failed: %s", job.public_id, type(error).__name__)
        shutil.rmtree(directory, ignore_errors=True)
        ExportJob.objects.filter(pk=job.pk, status=ExportStatus.RUNNING).update(
            status=ExportStatus.FAILED,
            finished_at=timezone.now(),
            error=(
                f"The export stopped with an error ({type(error).__name__}); no file was "
                "kept. Start a new export; if it fails again, tell whoever runs the server."
            ),
        )
        return ExportStatus.FAILED
    with transaction.atomic():
        finished = ExportJob.objects.filter(pk=job.pk, status=ExportStatus.RUNNING).update(
            status=ExportStatus.COMPLETED,
            progress=100,
            current_step="",
            finished_at=timezone.now(),
        )
        if not finished:  # cancelled while the last batch was written
            shutil.rmtree(directory, ignore_errors=True)
            return ExportStatus.CANCELLED
        ExportFile.objects.bulk_create(
            ExportFile(job=job, resource_type=resource_type, count=count)
            for resource_type, count in counts.items()
        )
    return ExportStatus.COMPLETED


@dataclass(frozen=True)
class _Source:
    """One table the export reads: its rows in a fixed order, and how a run of rows becomes
    resources (a list per row, in order)."""

    step: str  # what is being read, in words for the admin ("appointments")
    produces: frozenset[str]
    rows: QuerySet
    convert: Callable[[Iterator[Any]], Iterator[list[JSON]]]


def _each(build: Callable[[Any], list[JSON]]) -> Callable[[Iterator[Any]], Iterator[list[JSON]]]:
    return lambda rows: (build(row) for row in rows)


def _patient(patient: Patient, icd10: Mapping[str, codes.Code]) -> list[JSON]:
    height = body_height_observation(patient)
    return [
        patient_resource(patient),
        *condition_resources(patient, icd10),
        *([height] if height else []),
    ]


def _contact_consents(rows: Iterator[CommunicationConsent]) -> Iterator[list[JSON]]:
    """Each consent row, with whether it is the patient's current one on its channel: that
    is known when the next row arrives (rows come per patient and channel, oldest first)."""
    previous = None
    for row in rows:
        if previous is not None:
            current = (previous.patient_id, previous.channel) != (row.patient_id, row.channel)
            yield [contact_consent_resource(previous, previous.patient_public_id, current=current)]
        previous = row
    if previous is not None:
        yield [contact_consent_resource(previous, previous.patient_public_id, current=True)]


OBSERVATION = frozenset({"Observation"})
CONSENT = frozenset({"Consent"})


def _sources() -> list[_Source]:
    def with_patient(rows: QuerySet, path: str) -> QuerySet:
        return rows.annotate(patient_public_id=F(path))

    icd10 = diagnosis_codes()
    return [
        _Source(
            "patients",
            frozenset({"Patient", "Condition", "Observation"}),
            Patient.objects.order_by("pk"),
            _each(lambda patient: _patient(patient, icd10)),
        ),
        _Source(
            "consultation measurements",
            OBSERVATION,
            with_patient(Measurement.objects.order_by("pk"), "patient__public_id"),
            _each(
                lambda row: vital_sign_observations(
                    measurement_vital_signs(row), row.patient_public_id
                )
            ),
        ),
        _Source(
            "infusion vital signs",
            OBSERVATION,
            with_patient(
                VitalsReading.objects.order_by("pk"), "session__appointment__patient__public_id"
            ),
            _each(
                lambda row: vital_sign_observations(reading_vital_signs(row), row.patient_public_id)
            ),
        ),
        _Source(
            "questionnaires",
            frozenset({"QuestionnaireResponse", "Observation"}),
            with_patient(
                QuestionnaireResponse.objects.filter(instrument__in=list(codes.SURVEYS)).order_by(
                    "pk"
                ),
                "patient__public_id",
            ),
            _each(lambda row: survey_resources(row, row.patient_public_id)),
        ),
        _Source(
            "appointments",
            frozenset({"Appointment"}),
            with_patient(
                Appointment.objects.select_related(
                    "location", "appointment_type", "clinician"
                ).order_by("pk"),
                "patient__public_id",
            ),
            _each(lambda row: [appointment_resource(row, row.patient_public_id)]),
        ),
        _Source(
            "doses given",
            frozenset({"MedicationAdministration"}),
            with_patient(
                DoseAdministration.objects.select_related(
                    "order", "lot", "given_by", "correction"
                ).order_by("pk"),
                "order__session__appointment__patient__public_id",
            ),
            _each(lambda row: [medication_administration_resource(row, row.patient_public_id)]),
        ),
        _Source(
            "Spravato devices given",
            frozenset({"MedicationAdministration"}),
            with_patient(
                EsketamineDevice.objects.select_related("dose__given_by", "lot").order_by("pk"),
                "dose__session__appointment__patient__public_id",
            ),
            _each(lambda row: [esketamine_administration_resource(row, row.patient_public_id)]),
        ),
        _Source(
            "signed consents",
            CONSENT,
            with_patient(
                ConsentSignature.objects.select_related("document").order_by("pk"),
                "patient__public_id",
            ),
            _each(lambda row: [treatment_consent_resource(row, row.patient_public_id)]),
        ),
        _Source(
            "contact consents",
            CONSENT,
            with_patient(
                contact_consents_in_order(CommunicationConsent.objects.all()), "patient__public_id"
            ),
            _contact_consents,
        ),
    ]


class _Files:
    """The open NDJSON files of a job, one per resource type, each opened at its first
    resource (a type with nothing to export gets no file)."""

    def __init__(self, directory: Path, wanted: set[str]) -> None:
        self.directory = directory
        self.wanted = wanted
        self.handles: dict[str, IO[str]] = {}
        self.counts: dict[str, int] = {}

    def write(self, resource: JSON) -> None:
        kind = resource["resourceType"]
        if kind not in self.wanted:
            return
        handle = self.handles.get(kind)
        if handle is None:
            handle = (self.directory / f"{kind}.ndjson").open("w", encoding="utf-8")
            self.handles[kind] = handle
            self.counts[kind] = 0
        handle.write(json.dumps(resource, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.counts[kind] += 1

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


def _write_files(job: ExportJob, directory: Path) -> dict[str, int]:
    """Write every wanted resource, a batch at a time; the count of each type written."""
    wanted = set(job.resource_types or EXPORT_TYPES)
    sources = [source for source in _sources() if source.produces & wanted]
    sizes = [source.rows.count() for source in sources]
    total = sum(sizes) or 1
    done = 0
    files = _Files(directory, wanted)
    try:
        for source, size in zip(sources, sizes, strict=True):
            _report(job, done, total, source.step)
            rows = source.rows.iterator(chunk_size=BATCH)
            for index, resources in enumerate(source.convert(rows), 1):
                for resource in resources:
                    files.write(resource)
                if index % BATCH == 0:
                    _report(job, done + min(index, size), total, source.step)
            done += size
    finally:
        files.close()
    return {kind: files.counts[kind] for kind in EXPORT_TYPES if kind in files.counts}


def _report(job: ExportJob, done: int, total: int, step: str) -> None:
    """Record how far the job is (99 % at most until it is complete); stop if it was
    cancelled meanwhile."""
    updated = ExportJob.objects.filter(pk=job.pk, status=ExportStatus.RUNNING).update(
        progress=min(99, done * 100 // total), current_step=step, heartbeat_at=timezone.now()
    )
    if not updated:
        raise _Cancelled
