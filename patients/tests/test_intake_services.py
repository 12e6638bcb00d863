"""Saving drafts and submitting intakes: versions, single-use links, statuses, audit."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection

from clinic.models import AuditEvent
from patients.intake.answers import draft_answers, draft_steps
from patients.links import LinkError, link_create
from patients.models import IntakeSubmission, PatientLink, PatientStatus, ScreeningResult
from patients.services.intake import intake_link_create, intake_save_draft, intake_submit
from patients.tests.factories import PatientFactory
from patients.tests.test_intake import complete_answers

INTAKE = PatientLink.Purpose.INTAKE


@pytest.fixture
def patient(db):
    return PatientFactory()


def intake_link(patient, **kwargs):
    link, _token = link_create(patient=patient, purpose=INTAKE, created_by=None, **kwargs)
    return link


# --- Versions ----------------------------------------------------------------------------


def test_each_submission_is_a_new_version_and_old_ones_stay_as_they_were(patient, nina):
    first = intake_submit(patient=patient, answers=complete_answers(), entered_by=nina)
    second = intake_submit(
        patient=patient, answers=complete_answers(hypertension="yes"), entered_by=nina
    )
    assert (first.version, second.version) == (1, 2)
    first.refresh_from_db()
    assert first.answers["hypertension"] == "no"
    assert second.answers["hypertension"] == "yes"
    assert second.entered_by == nina
    assert second.via_link is None


def test_versions_are_counted_per_patient(patient, nina):
    other = PatientFactory()
    intake_submit(patient=other, answers=complete_answers(), entered_by=nina)
    assert intake_submit(patient=patient, answers=complete_answers(), entered_by=nina).version == 1


def test_an_incomplete_intake_is_refused_and_nothing_is_saved(patient, nina):
    with pytest.raises(ValidationError) as caught:
        intake_submit(
            patient=patient, answers=complete_answers(takes_medicines=None), entered_by=nina
        )
    assert caught.value.message_dict == {
        "takes_medicines": ["Answer this question before you send the questionnaire."]
    }
    assert not IntakeSubmission.objects.exists()
    assert not ScreeningResult.objects.exists()
    patient.refresh_from_db()
    assert patient.status == PatientStatus.CONSULTATION_REQUESTED


def test_submitting_moves_the_patient_to_awaiting_decision_and_screens_them(patient, nina):
    submission = intake_submit(patient=patient, answers=complete_answers(), entered_by=nina)
    patient.refresh_from_db()
    assert patient.status == PatientStatus.AWAITING_DECISION
    result = ScreeningResult.objects.get(patient=patient)
    assert result.intake == submission


def test_it_refuses_staff_who_do_not_record_clinical_information(patient, fran):
    with pytest.raises(PermissionDenied):
        intake_submit(patient=patient, answers=complete_answers(), entered_by=fran)
    assert not IntakeSubmission.objects.exists()


def test_it_records_the_submission_in_the_audit_log_without_answers(patient, nina):
    intake_submit(patient=patient, answers=complete_answers(), entered_by=nina)
    event = AuditEvent.objects.get(object_type="patients.intakesubmission")
    assert event.action == AuditEvent.Action.CREATE
    assert event.actor == nina
    assert event.summary == (
        f"submitted intake version 1 (entered by staff) for patient {patient.public_id}"
    )
    assert event.object_label == ""
    assert AuditEvent.objects.filter(
        object_type="patients.patient", object_id=str(patient.public_id), summary="changed status"
    ).exists()


# --- Drafts through a link ---------------------------------------------------------------


def test_a_draft_keeps_partial_answers_and_which_steps_were_saved(patient):
    link = intake_link(patient)
    intake_save_draft(link=link, data={"hypertension": "yes"}, step="medical")
    intake_save_draft(link=link, data={"depression": "no"}, step="psychiatric")
    link.refresh_from_db()
    assert draft_answers(link)["hypertension"] == "yes"
    assert draft_answers(link)["depression"] == "no"
    assert draft_steps(link) == ["medical", "psychiatric"]


def test_a_later_draft_save_replaces_an_earlier_answer(patient):
    link = intake_link(patient)
    intake_save_draft(link=link, data={"hypertension": "yes"}, step="medical")
    intake_save_draft(link=link, data={"hypertension": "no"}, step="medical")
    link.refresh_from_db()
    assert draft_answers(link)["hypertension"] == "no"
    assert draft_steps(link) == ["medical"]


def test_a_draft_with_a_wrong_answer_is_refused_and_the_old_draft_kept(patient):
    link = intake_link(patient)
    intake_save_draft(link=link, data={"hypertension": "yes"}, step="medical")
    with pytest.raises(ValidationError) as caught:
        intake_save_draft(link=link, data={"antidepressant_trials": -2}, step="psychiatric")
    assert caught.value.message_dict == {"antidepressant_trials": ["Enter 0 or more."]}
    link.refresh_from_db()
    assert draft_answers(link)["hypertension"] == "yes"
    assert draft_steps(link) == ["medical"]


def test_saving_a_draft_starts_the_intake_and_is_audited(patient):
    link = intake_link(patient)
    intake_save_draft(link=link, data={"hypertension": "yes"}, step="medical")
    patient.refresh_from_db()
    assert patient.status == PatientStatus.INTAKE_IN_PROGRESS
    event = AuditEvent.objects.get(object_type="patients.patientlink", action="update")
    assert event.actor is None
    assert str(patient.public_id) in event.summary


def test_a_draft_cannot_be_saved_on_an_expired_link(patient):
    link = intake_link(patient, lifetime=timedelta(seconds=-1))
    with pytest.raises(LinkError, match="expired"):
        intake_save_draft(link=link, data={"hypertension": "yes"}, step="medical")


# --- Submitting through a link -----------------------------------------------------------


def test_a_link_submission_uses_up_the_link_and_clears_its_draft(patient):
    link = intake_link(patient)
    intake_save_draft(link=link, data={"hypertension": "yes"}, step="medical")
    submission = intake_submit(patient=patient, answers=complete_answers(), via_link=link)
    link.refresh_from_db()
    assert link.used_at is not None
    assert link.draft == {}
    assert submission.via_link == link
    assert submission.entered_by is None


def test_a_link_can_submit_only_once(patient):
    link = intake_link(patient)
    intake_submit(patient=patient, answers=complete_answers(), via_link=link)
    with pytest.raises(LinkError) as caught:
        intake_submit(patient=patient, answers=complete_answers(), via_link=link)
    assert "already been used" in str(caught.value)
    assert caught.value.status == 410
    assert IntakeSubmission.objects.count() == 1


def test_a_link_for_one_patient_cannot_submit_for_another(patient):
    link = intake_link(patient)
    other = PatientFactory()
    with pytest.raises(PermissionDenied):
        intake_submit(patient=other, answers=complete_answers(), via_link=link)
    assert not IntakeSubmission.objects.exists()
    link.refresh_from_db()
    assert link.used_at is None


def test_a_consent_link_cannot_submit_an_intake(patient):
    link, _token = link_create(
        patient=patient, purpose=PatientLink.Purpose.CONSENT, created_by=None
    )
    with pytest.raises((LinkError, PermissionDenied)):
        intake_submit(patient=patient, answers=complete_answers(), via_link=link)
    assert not IntakeSubmission.objects.exists()


def test_an_intake_needs_a_staff_member_or_a_link(patient, nina):
    with pytest.raises(ValidationError):
        intake_submit(patient=patient, answers=complete_answers())
    with pytest.raises(ValidationError):
        intake_submit(
            patient=patient,
            answers=complete_answers(),
            entered_by=nina,
            via_link=intake_link(patient),
        )


# --- Making a link -----------------------------------------------------------------------


def test_making_a_link_starts_the_intake(patient, fran):
    link, token = intake_link_create(actor=fran, patient=patient)
    assert link.purpose == INTAKE
    assert token
    patient.refresh_from_db()
    assert patient.status == PatientStatus.INTAKE_IN_PROGRESS


def test_making_a_link_does_not_move_a_patient_back(patient, fran):
    patient.status = PatientStatus.APPROVED
    patient.save(update_fields=["status"])
    intake_link_create(actor=fran, patient=patient)
    patient.refresh_from_db()
    assert patient.status == PatientStatus.APPROVED


def test_content_editors_cannot_make_links(patient, edie):
    with pytest.raises(PermissionDenied):
        intake_link_create(actor=edie, patient=patient)
    assert not PatientLink.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_submissions_at_once_get_different_versions(nina):
    patient = PatientFactory()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            barrier.wait(timeout=10)
            intake_submit(patient=patient, answers=complete_answers(), entered_by=nina)
        except BaseException as exc:  # reported below: a thread's exception is otherwise lost
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    versions = sorted(
        IntakeSubmission.objects.filter(patient=patient).values_list("version", flat=True)
    )
    assert versions == [1, 2]
