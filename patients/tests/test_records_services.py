"""The patient record services: what they save, what they refuse, and what they log."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from clinic.audit import Action
from clinic.messaging.outbox import outbox_enqueue
from clinic.models import AuditEvent, Location
from patients.models import (
    CommunicationConsent,
    Measurement,
    Patient,
    PatientStatus,
    QuestionnaireResponse,
    ScreeningResult,
)
from patients.services.contact_consent import contact_consent_record
from patients.services.details import patient_create, patient_set_status, patient_update
from patients.services.measurements import measurement_record
from patients.services.questionnaires import questionnaire_record
from patients.tests.factories import CommunicationConsentFactory, PatientFactory

PHQ9_ALL_ONES = {f"q{n}": 1 for n in range(1, 10)}


def audit_events(action: Action | None = None) -> list[AuditEvent]:
    events = AuditEvent.objects.exclude(action=Action.LOGIN).order_by("id")
    return list(events.filter(action=action) if action else events)


def details(**overrides) -> dict:
    return {
        "legal_first_name": "Jordan",
        "legal_last_name": "Rivera",
        "date_of_birth": date(1984, 3, 27),
        "sex_at_birth": "female",
        **overrides,
    }


def years_ago(years: int, days: int = 0) -> date:
    today = timezone.localdate()
    return today.replace(year=today.year - years) - timedelta(days=days)


@pytest.fixture
def riverside(db) -> Location:
    return Location.objects.create(
        name="Riverside",
        address_line1="1 River Road",
        city="New York",
        phone="+12125550100",
        time_zone="America/New_York",
    )


@pytest.fixture
def patient(db) -> Patient:
    return PatientFactory(email="sam@example.com", mobile="+12125550142")


# --- patient_create -----------------------------------------------------------------------


def test_it_creates_a_patient_waiting_for_a_consultation(fran, riverside):
    patient = patient_create(
        actor=fran,
        **details(
            preferred_name=" Jo ",
            email=" Jordan.Rivera@Example.COM ",
            mobile="+1 (212) 555-0142",
            preferred_location=riverside,
            conditions=["ptsd", "trd", "trd"],
        ),
    )

    patient.refresh_from_db()
    assert patient.status == PatientStatus.CONSULTATION_REQUESTED
    assert patient.preferred_name == "Jo"
    assert patient.email == "jordan.rivera@example.com"
    assert patient.mobile == "+12125550142"
    assert patient.conditions == ["trd", "ptsd"]
    [event] = audit_events()
    assert (event.actor, event.action, event.object_id) == (
        fran,
        Action.CREATE,
        str(patient.public_id),
    )
    assert "email" in event.summary
    assert "Jordan" not in event.summary + event.object_label
    assert "example.com" not in event.summary


def test_a_us_number_is_taken_as_the_front_desk_hears_it(fran):
    # As the booking form takes it: with its area code, no country code needed.
    patient = patient_create(
        actor=fran, **details(mobile="(303) 555-0200", emergency_contact_phone="303.555.0201")
    )

    patient.refresh_from_db()
    assert patient.mobile == "+13035550200"
    assert patient.emergency_contact_phone == "+13035550201"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"date_of_birth": timezone.localdate() + timedelta(days=1)}, "date_of_birth", "future"),
        ({"date_of_birth": years_ago(120, days=1)}, "date_of_birth", "over 120"),
        ({"weight_kg": Decimal("29.9")}, "weight_kg", "between 30 and 300"),
        ({"weight_kg": 300.1}, "weight_kg", "between 30 and 300"),
        ({"weight_kg": "heavy"}, "weight_kg", "between 30 and 300"),
        ({"height_cm": 99}, "height_cm", "between 100 and 250"),
        ({"mobile": "212 555 014"}, "mobile", "with its area code"),
        ({"mobile": "+0123456789"}, "mobile", "with its area code"),
        ({"mobile": "+1 212 555 0142 ext 3"}, "mobile", "with its area code"),
        ({"emergency_contact_phone": "call me"}, "emergency_contact_phone", "with its area code"),
        ({"email": "jordan@"}, "email", "valid email address"),
        ({"email": "jordan at example.com"}, "email", "valid email address"),
        ({"legal_first_name": "  "}, "legal_first_name", "legal first name"),
        ({"sex_at_birth": "unknown"}, "sex_at_birth", "Choose"),
        ({"conditions": ["flu"]}, "conditions", "flu is not a condition"),
        ({"country": "USA"}, "country", "two-letter"),
    ],
)
def test_it_refuses_bad_details_and_saves_nothing(nina, overrides, field, message):
    with pytest.raises(ValidationError) as caught:
        patient_create(actor=nina, **details(**overrides))

    assert message in " ".join(caught.value.message_dict[field])
    assert not Patient.objects.exists()
    assert audit_events() == []


def test_it_reports_every_bad_field_at_once(fran):
    with pytest.raises(ValidationError) as caught:
        patient_create(
            actor=fran, **details(date_of_birth=date(2999, 1, 1), email="x@", mobile="555")
        )

    assert set(caught.value.message_dict) == {"date_of_birth", "email", "mobile"}


@pytest.mark.parametrize(
    "overrides",
    [
        {"date_of_birth": years_ago(120)},
        {"date_of_birth": timezone.localdate()},
        {"weight_kg": 30, "height_cm": 100},
        {"weight_kg": "300.0", "height_cm": 250},
        {"mobile": "0044 20 7946 0958"},
    ],
)
def test_it_accepts_values_at_the_limits(nina, overrides):
    patient = patient_create(actor=nina, **details(**overrides))

    assert Patient.objects.filter(pk=patient.pk).exists()


def test_it_rounds_weight_to_a_tenth_of_a_kilo(nina):
    patient = patient_create(actor=nina, **details(weight_kg=72.46))

    patient.refresh_from_db()
    assert patient.weight_kg == Decimal("72.5")


def test_it_refuses_a_deactivated_location_for_a_new_patient(fran, riverside):
    riverside.is_active = False
    riverside.save(update_fields=["is_active"])

    with pytest.raises(ValidationError) as caught:
        patient_create(actor=fran, **details(preferred_location=riverside))

    assert "deactivated" in caught.value.message_dict["preferred_location"][0]


def test_it_refuses_fields_it_does_not_know(fran):
    with pytest.raises(TypeError):
        patient_create(actor=fran, **details(status=PatientStatus.APPROVED))


# --- patient_update -----------------------------------------------------------------------


def test_it_saves_changed_details_and_names_them_in_the_log(fran, patient):
    updated = patient_update(
        actor=fran,
        patient=patient,
        legal_last_name="Newname",
        city=patient.city,
        mobile="+1 212 555 0199",
    )

    assert updated.legal_last_name == "Newname"
    assert updated.mobile == "+12125550199"
    [event] = audit_events()
    assert event.action == Action.UPDATE
    assert event.summary == "changed legal_last_name, mobile"
    assert "Newname" not in event.summary


def test_it_logs_nothing_when_nothing_changed(fran, patient):
    patient_update(
        actor=fran, patient=patient, email="SAM@example.com", conditions=patient.conditions
    )

    assert audit_events() == []


def test_a_refused_update_changes_nothing(fran, patient):
    with pytest.raises(ValidationError) as caught:
        patient_update(actor=fran, patient=patient, legal_last_name="Changed", mobile="not a phone")

    assert "mobile" in caught.value.message_dict
    patient.refresh_from_db()
    assert patient.legal_last_name != "Changed"
    assert patient.mobile == "+12125550142"
    assert audit_events() == []


def test_a_patient_keeps_a_location_that_was_deactivated_later(fran, riverside):
    patient = PatientFactory(preferred_location=riverside)
    riverside.is_active = False
    riverside.save(update_fields=["is_active"])

    patient_update(actor=fran, patient=patient, preferred_location=riverside, city="Brooklyn")

    patient.refresh_from_db()
    assert (patient.preferred_location, patient.city) == (riverside, "Brooklyn")


def test_it_sets_a_status_and_logs_the_field_only(phil, patient):
    patient_set_status(actor=phil, patient=patient, status=PatientStatus.DECLINED)

    patient.refresh_from_db()
    assert patient.status == PatientStatus.DECLINED
    [event] = audit_events()
    assert event.summary == "changed status"


# --- contact_consent_record ---------------------------------------------------------------


def test_it_records_consent_changes_as_history(fran, patient):
    contact_consent_record(
        actor=fran, patient=patient, channel="sms", granted=True, method="by phone"
    )
    contact_consent_record(
        actor=fran, patient=patient, channel="sms", granted=False, method="replied STOP"
    )

    history = list(patient.contact_consents.order_by("id").values_list("granted", "method"))
    assert history == [(True, "by phone"), (False, "replied STOP")]
    events = audit_events()
    assert [event.summary for event in events] == ["changed contact consent: sms"] * 2
    assert all(event.object_id == str(patient.public_id) for event in events)


def test_it_refuses_to_record_the_state_a_channel_is_already_in(fran, patient):
    CommunicationConsentFactory(patient=patient, channel="email", granted=True)

    with pytest.raises(ValidationError) as caught:
        contact_consent_record(
            actor=fran, patient=patient, channel="email", granted=True, method="at reception"
        )

    assert "already given" in caught.value.message_dict["granted"][0]
    assert "Nothing to change" in caught.value.message_dict["granted"][0]
    assert patient.contact_consents.count() == 1
    assert audit_events() == []


def test_it_records_a_first_refusal(fran, patient):
    consent = contact_consent_record(
        actor=fran, patient=patient, channel="email", granted=False, method="asked at booking"
    )

    assert consent.granted is False
    assert consent.recorded_by == fran


def test_withdrawing_consent_stops_what_waits_on_that_channel_at_once(fran, patient):
    patient.mobile = "+13125550123"
    patient.save(update_fields=["mobile"])
    for channel in ("sms", "email"):
        outbox_enqueue(key=f"test:{channel}", kind="reminder_48h", channel=channel, patient=patient)

    contact_consent_record(
        actor=fran, patient=patient, channel="sms", granted=False, method="phone call"
    )

    statuses = dict(patient.messages.values_list("channel", "status"))
    assert statuses == {"sms": "skipped", "email": "pending"}
    assert patient.messages.get(channel="sms").skip_reason == "no_consent"


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"method": "  "}, "method", "Say how"),
        ({"method": "x" * 121}, "method", "120 characters"),
        ({"channel": "fax"}, "channel", "email or text"),
        ({"granted": "yes"}, "granted", "given or withdrawn"),
    ],
)
def test_it_refuses_incomplete_consent(fran, patient, changes, field, message):
    arguments = {"channel": "sms", "granted": True, "method": "by phone", **changes}

    with pytest.raises(ValidationError) as caught:
        contact_consent_record(actor=fran, patient=patient, **arguments)

    assert message in caught.value.message_dict[field][0]
    assert not CommunicationConsent.objects.exists()


def test_it_needs_a_number_before_consent_to_texts(fran):
    patient = PatientFactory(mobile="")

    with pytest.raises(ValidationError) as caught:
        contact_consent_record(
            actor=fran, patient=patient, channel="sms", granted=True, method="by phone"
        )

    assert "mobile number first" in caught.value.message_dict["granted"][0]


# --- measurement_record -------------------------------------------------------------------


def test_it_records_a_measurement_and_screens_again(nina, patient):
    measurement = measurement_record(
        actor=nina,
        patient=patient,
        systolic=128,
        diastolic=84,
        heart_rate=72,
        spo2=98,
        weight_kg=Decimal("80.0"),
    )

    assert measurement.taken_by == nina
    patient.refresh_from_db()
    assert patient.weight_kg == Decimal("80.0")
    screening = ScreeningResult.objects.get(patient=patient)
    assert screening.measurement == measurement
    created = audit_events(Action.CREATE)
    assert created[0].object_type == "patients.measurement"
    assert str(patient.public_id) in created[0].summary
    # No value either (the random id may itself contain the digits, so it is left out).
    assert "128" not in created[0].summary.replace(str(patient.public_id), "")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("systolic", 59, "between 60 and 260"),
        ("systolic", 261, "between 60 and 260"),
        ("diastolic", 29, "between 30 and 160"),
        ("diastolic", 161, "between 30 and 160"),
        ("heart_rate", 24, "between 25 and 250"),
        ("heart_rate", 251, "between 25 and 250"),
        ("spo2", 49, "between 50 and 100"),
        ("spo2", 101, "between 50 and 100"),
        ("spo2", None, "Enter the oxygen saturation"),
        ("weight_kg", 29, "between 30 and 300"),
        ("weight_kg", 301, "between 30 and 300"),
        ("taken_at", timezone.now() + timedelta(hours=1), "in the future"),
    ],
)
def test_it_refuses_readings_outside_physiological_ranges(nina, patient, field, value, message):
    reading = {"systolic": 128, "diastolic": 84, "heart_rate": 72, "spo2": 98, field: value}

    with pytest.raises(ValidationError) as caught:
        measurement_record(actor=nina, patient=patient, **reading)

    assert message in caught.value.message_dict[field][0]
    assert not Measurement.objects.exists()
    assert not ScreeningResult.objects.exists()
    assert audit_events() == []


@pytest.mark.parametrize(("systolic", "diastolic"), [(120, 120), (110, 120)])
def test_it_refuses_a_diastolic_pressure_not_below_the_systolic(nina, patient, systolic, diastolic):
    with pytest.raises(ValidationError) as caught:
        measurement_record(
            actor=nina,
            patient=patient,
            systolic=systolic,
            diastolic=diastolic,
            heart_rate=72,
            spo2=98,
        )

    assert "must be lower than the systolic" in caught.value.message_dict["diastolic"][0]
    assert not Measurement.objects.exists()


# --- questionnaire_record -----------------------------------------------------------------


def test_a_baseline_phq9_is_scored_and_screened(nina, patient):
    answers = PHQ9_ALL_ONES | {"q9": 2}

    response = questionnaire_record(
        actor=nina, patient=patient, instrument="phq9", answers=answers, context="baseline"
    )

    assert (response.total, response.band, response.item9_positive) == (10, "moderate", True)
    screening = ScreeningResult.objects.get(patient=patient)
    assert screening.phq9 == response
    assert any(finding["urgent"] for finding in screening.findings)
    [created] = [e for e in audit_events(Action.CREATE) if "questionnaire" in e.object_type]
    assert created.summary == f"recorded a PHQ-9 (baseline) for patient {patient.public_id}"


def test_other_questionnaires_do_not_rerun_the_screening(nina, patient):
    questionnaire_record(
        actor=nina,
        patient=patient,
        instrument="gad7",
        answers={f"q{n}": 2 for n in range(1, 8)},
        context="baseline",
    )
    questionnaire_record(
        actor=nina, patient=patient, instrument="phq9", answers=PHQ9_ALL_ONES, context="follow_up"
    )

    assert QuestionnaireResponse.objects.count() == 2
    assert not ScreeningResult.objects.exists()


def test_it_refuses_an_incomplete_questionnaire_question_by_question(nina, patient):
    answers = {key: value for key, value in PHQ9_ALL_ONES.items() if key != "q3"} | {"q4": 7}

    with pytest.raises(ValidationError) as caught:
        questionnaire_record(actor=nina, patient=patient, instrument="phq9", answers=answers)

    assert caught.value.message_dict == {
        "q3": ["Answer question 3."],
        "q4": ["Choose a value from 0 to 3."],
    }
    assert not QuestionnaireResponse.objects.exists()
    assert audit_events() == []


@pytest.mark.parametrize(
    ("changes", "field"), [({"instrument": "beck"}, "instrument"), ({"context": "x"}, "context")]
)
def test_it_refuses_an_unknown_questionnaire_or_context(nina, patient, changes, field):
    arguments = {"instrument": "phq9", "answers": PHQ9_ALL_ONES, "context": "baseline", **changes}

    with pytest.raises(ValidationError) as caught:
        questionnaire_record(actor=nina, patient=patient, **arguments)

    assert field in caught.value.message_dict
    assert not QuestionnaireResponse.objects.exists()


def test_weight_and_height_are_for_clinicians_to_record(fran, alice):
    for actor in (fran, alice):
        with pytest.raises(PermissionDenied, match="Only nurses and physicians"):
            patient_create(actor=actor, **details(weight_kg=70))

    assert not Patient.objects.exists()


def test_staff_without_the_right_to_edit_details_cannot_add_patients(edie):
    with pytest.raises(PermissionDenied):
        patient_create(actor=edie, **details())
