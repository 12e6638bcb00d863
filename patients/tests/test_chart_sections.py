"""The chart's clinical sections are kept rendered (patients.chart_sections): every write to a
row they show is on the next view, and no reader gets sections drawn for other permissions."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.middleware.csrf import _unmask_cipher_token
from django.utils import timezone

from clinic.fragments import CSRF_PLACEHOLDER
from clinic.models import Location, User
from patients.models import (
    CheckIn,
    ConsentDocument,
    ConsentSignature,
    Measurement,
    Medication,
    MedicationReconciliation,
    Patient,
    SafetyAlert,
)
from patients.services.safety import safety_alert_raise, safety_alert_resolve
from patients.tests.factories import (
    CommunicationConsentFactory,
    IntakeSubmissionFactory,
    MeasurementFactory,
    PatientFactory,
    QuestionnaireResponseFactory,
    ScreeningDecisionFactory,
    ScreeningResultFactory,
)
from patients.tests.test_chart import ANEURYSM, chart_url
from tests.clock import travel_to


@pytest.fixture
def riverside(db) -> Location:
    return Location.objects.create(name="Riverside", time_zone="America/New_York")


@pytest.fixture
def full_record(nina, phil) -> Patient:
    """A patient with an intake, a measurement, a PHQ-9, a screening and a decision."""
    patient = PatientFactory(legal_first_name="Jordan", conditions=["trd", "ptsd"])
    intake = IntakeSubmissionFactory(patient=patient, version=1, entered_by=nina)
    measurement = MeasurementFactory(patient=patient, taken_by=nina)
    phq9 = QuestionnaireResponseFactory(patient=patient)
    screening = ScreeningResultFactory(
        patient=patient,
        intake=intake,
        measurement=measurement,
        phq9=phq9,
        outcome="contraindicated",
        findings=[ANEURYSM],
    )
    ScreeningDecisionFactory(patient=patient, screening=screening, decided_by=phil)
    return patient


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def seen(signed_in, phil):
    """The chart as Phil sees it: the first view keeps its sections."""

    def view(patient) -> str:
        return signed_in(phil).get(chart_url(patient)).content.decode()

    return view


def latest_intake(patient):
    return patient.intakes.order_by("-version").first()


# --- Each write shows on the next view ------------------------------------------------------


def test_a_new_screening_result_shows(seen, full_record):
    seen(full_record)
    ScreeningResultFactory(patient=full_record, ruleset_version="2027.01-9")

    html = seen(full_record)

    assert "2027.01-9" in html
    assert "Stale: needs a new decision" in html


def test_a_new_and_a_changed_decision_show(seen, full_record, phil):
    seen(full_record)
    decision = ScreeningDecisionFactory(
        patient=full_record,
        screening=full_record.screenings.get(),
        decided_by=phil,
        decision="defer",
        needed="An ECG first.",
    )
    added = seen(full_record)
    decision.needed = "An ECG and a cardiology letter."
    decision.save(update_fields=["needed"])
    changed = seen(full_record)

    assert "An ECG first." in added
    assert "An ECG and a cardiology letter." in changed


def test_a_new_intake_version_shows(seen, full_record, nina):
    seen(full_record)
    IntakeSubmissionFactory(patient=full_record, version=2, entered_by=nina)

    assert "Version 2" in seen(full_record)


def test_medications_added_changed_and_removed_show(seen, full_record):
    intake = latest_intake(full_record)
    seen(full_record)
    medication = Medication.objects.create(intake=intake, position=1, other_name="Zolpinex")
    added = seen(full_record)
    medication.other_name = "Zolpinex retard"
    medication.save(update_fields=["other_name"])
    changed = seen(full_record)
    medication.delete()
    removed = seen(full_record)

    assert "Zolpinex" in added
    assert "Zolpinex retard" in changed
    assert "Zolpinex" not in removed


def test_a_confirmed_medication_list_shows(seen, full_record, nina):
    seen(full_record)
    MedicationReconciliation.objects.create(
        intake=latest_intake(full_record), confirmed_by=nina, note="Checked the bottles."
    )

    html = seen(full_record)

    assert "Confirmed with the patient by Nina Nurse" in html
    assert "Checked the bottles." in html


def test_measurements_added_changed_and_removed_show(seen, full_record, nina):
    seen(full_record)
    measurement = MeasurementFactory(patient=full_record, systolic=151, diastolic=95, taken_by=nina)
    added = seen(full_record)
    Measurement.objects.filter(pk=measurement.pk).update(systolic=149)
    changed = seen(full_record)
    measurement.delete()
    removed = seen(full_record)

    assert "151/95 mmHg" in added
    assert "149/95 mmHg" in changed
    assert "/95 mmHg" not in removed


def test_questionnaires_added_changed_and_removed_show(seen, full_record):
    seen(full_record)
    response = QuestionnaireResponseFactory(
        patient=full_record, instrument="gad7", context="follow_up"
    )
    added = seen(full_record)
    type(response).objects.filter(pk=response.pk).update(total=19)
    changed = seen(full_record)
    response.delete()
    removed = seen(full_record)

    assert "GAD-7" in added
    assert "19/21" in changed
    assert "GAD-7</td>" not in removed


def test_a_safety_alert_raised_and_followed_up_shows(seen, full_record, nina):
    seen(full_record)
    alert = safety_alert_raise(
        patient=full_record,
        source=SafetyAlert.Source.BOOKING_REASON,
        reported_text="Wants help before it gets worse.",
    )
    raised = seen(full_record)
    safety_alert_resolve(actor=nina, alert=alert, follow_up_note="Called back; safe tonight.")
    followed_up = seen(full_record)

    assert 'data-testid="safety-alert-open"' in raised
    assert "Wants help before it gets worse." in raised
    assert 'data-testid="safety-alert-open"' not in followed_up
    assert "Called back; safe tonight." in followed_up


def test_a_check_in_shows(seen, full_record):
    seen(full_record)
    CheckIn.objects.create(patient=full_record, wellbeing=2, self_harm_thoughts=False)

    html = seen(full_record)

    assert 'data-testid="check-in"' in html


def test_a_renamed_clinician_shows(seen, full_record, nina):
    seen(full_record)
    User.objects.filter(pk=nina.pk).update(full_name="Nina Newname")

    assert "Nina Newname" in seen(full_record)


def test_a_renamed_place_shows(seen, full_record, riverside):
    alert = safety_alert_raise(
        patient=full_record, source=SafetyAlert.Source.BOOKING_REASON, reported_text="Help."
    )
    SafetyAlert.objects.filter(pk=alert.pk).update(location=riverside)
    seen(full_record)
    riverside.name = "Riverside North"
    riverside.save(update_fields=["name"])

    assert "(Riverside North)" in seen(full_record)


def test_a_change_of_conditions_changes_the_questionnaires_suggested(seen, full_record):
    base = f"/staff/patients/{full_record.public_id}/questionnaires/new/"
    before = seen(full_record)
    full_record.conditions = ["fibromyalgia"]
    full_record.save(update_fields=["conditions"])

    after = seen(full_record)

    assert f'href="{base}pcl5/"' in before
    assert f'href="{base}pcl5/"' not in after


# --- The summary and the consents, for everyone -------------------------------------------


def test_a_changed_address_and_a_renamed_place_show(seen, full_record, riverside):
    full_record.preferred_location = riverside
    full_record.save(update_fields=["preferred_location"])
    seen(full_record)
    Patient.objects.filter(pk=full_record.pk).update(city="Albany")
    moved = seen(full_record)
    riverside.name = "Riverside North"
    riverside.save(update_fields=["name"])
    renamed = seen(full_record)

    assert "Albany" in moved
    assert "Riverside North" in renamed


def test_the_age_follows_the_day(seen, nina):
    tomorrow = timezone.localdate() + timedelta(days=1)
    patient = PatientFactory(date_of_birth=tomorrow.replace(year=tomorrow.year - 40))
    today = seen(patient)

    travel_to(timezone.now() + timedelta(days=1))

    assert "(age 39)" in today
    assert "(age 40)" in seen(patient)


def test_contact_consent_given_and_its_recorder_renamed_show(seen, full_record, nina):
    seen(full_record)
    CommunicationConsentFactory(
        patient=full_record, channel="email", granted=True, recorded_by=nina
    )
    given = seen(full_record)
    User.objects.filter(pk=nina.pk).update(full_name="Nina Newname")
    renamed = seen(full_record)

    assert "(recorded by Nina Nurse)" in given
    assert "(recorded by Nina Newname)" in renamed


def test_a_signature_and_a_new_version_of_the_form_show(seen, full_record):
    document = ConsentDocument.objects.create(
        title="Consent to ketamine infusion", version=1, sections=[], published_at=timezone.now()
    )
    unsigned = seen(full_record)
    ConsentSignature.objects.create(
        patient=full_record,
        document=document,
        signed_name="Jordan",
        document_snapshot={},
        method="tablet",
    )
    signed = seen(full_record)
    ConsentDocument.objects.create(
        title="Consent to ketamine infusion", version=2, sections=[], published_at=timezone.now()
    )
    replaced = seen(full_record)

    assert "must sign version 1" in unsigned
    assert "Consent to ketamine infusion (version 1), signed" in signed
    assert "version 2 has replaced it" in replaced


# --- Readers -------------------------------------------------------------------------------


def test_the_front_desk_never_gets_the_sections_kept_for_a_physician(
    seen, signed_in, fran, full_record
):
    full_record.weight_kg = "81.5"
    full_record.save(update_fields=["weight_kg"])
    physician = seen(full_record)

    html = signed_in(fran).get(chart_url(full_record)).content.decode()

    assert "Intake versions" not in html
    assert "vascular.aneurysm_avm" not in html
    assert "81.5 kg" in physician
    assert 'data-testid="summary"' in html  # the summary is theirs, without the weight
    assert "81.5 kg" not in html


def test_a_nurse_never_gets_the_sections_kept_for_a_physician(seen, signed_in, nina, full_record):
    decide = f"/staff/patients/{full_record.public_id}/decision/new/"
    physician = seen(full_record)

    nurse = signed_in(nina).get(chart_url(full_record)).content.decode()

    assert decide in physician
    assert decide not in nurse
    assert "Intake versions" in nurse


def test_the_kept_forms_carry_each_readers_own_token(seen, full_record):
    seen(full_record)

    html = seen(full_record)

    assert CSRF_PLACEHOLDER not in html
    [page_token] = re.findall(r'"X-CSRFToken": "([^"]+)"', html)
    tokens = re.findall(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert tokens  # the screening's and the medication list's forms, at least
    # Tokens are masked afresh each time; under the mask, the reader's own secret.
    assert {_unmask_cipher_token(token) for token in tokens} == {_unmask_cipher_token(page_token)}
