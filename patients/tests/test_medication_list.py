"""The medication list: kept with each intake version, refused by the database when it
makes no sense, entered by staff and by the patient through their link (with the search),
shown and confirmed on the chart, and a change after approval makes the decision stale."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from clinic.models import AuditEvent
from patients.intake.medications import draft_medications
from patients.links import link_create
from patients.models import (
    IntakeSubmission,
    Medication,
    MedicationReconciliation,
    PatientLink,
)
from patients.questionnaires import definition_for
from patients.services.intake import intake_submit
from patients.services.medications import medication_list_confirm
from patients.services.screening import course_scheduling_allowed, decision_record
from patients.tests.factories import (
    MeasurementFactory,
    PatientFactory,
    QuestionnaireResponseFactory,
)
from patients.tests.test_intake import complete_answers, form_data

SERTRALINE = {"drug_key": "sertraline", "strength_mg": "50", "frequency": "once_daily"}
ALPRAZOLAM = {
    "drug_key": "alprazolam",
    "strength_mg": "0.5",
    "units_each_time": "1",
    "frequency": "twice_daily",
    "status": "current",
}


def row(**fields: str) -> dict[str, str]:
    return {"status": "current", "units_each_time": "1"} | fields


@pytest.fixture
def patient(db):
    return PatientFactory(legal_first_name="Robin", legal_last_name="Quinn")


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def submit(patient, nina, *rows):
    takes = "yes" if any(r.get("status", "current") == "current" for r in rows) else "no"
    return intake_submit(
        patient=patient,
        answers=complete_answers(takes_medicines=takes),
        medications=list(rows),
        entered_by=nina,
    )


# --- What the database refuses -----------------------------------------------------------


@pytest.fixture
def intake(patient, nina):
    return submit(patient, nina)


@pytest.mark.parametrize(
    "fields",
    [
        {"drug_key": "sertraline", "other_name": "Zoloft"},  # both
        {"drug_key": "", "other_name": ""},  # neither
        {"drug_key": "sertraline", "strength_mg": Decimal(0)},
        {"drug_key": "sertraline", "strength_mg": Decimal("-5")},
        {"drug_key": "sertraline", "units_each_time": Decimal(0)},
        {"drug_key": "sertraline", "frequency": "hourly"},
        {"drug_key": "sertraline", "status": "maybe"},
    ],
)
def test_the_database_refuses_a_medicine_that_makes_no_sense(intake, fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        Medication.objects.create(intake=intake, position=1, **fields)


def test_the_database_refuses_two_medicines_in_one_place(intake):
    Medication.objects.create(intake=intake, position=1, drug_key="sertraline")
    with pytest.raises(IntegrityError), transaction.atomic():
        Medication.objects.create(intake=intake, position=1, other_name="fish oil")


# --- Kept with the intake ----------------------------------------------------------------


def test_an_intake_keeps_its_list_in_order(patient, nina):
    submission = submit(
        patient, nina, row(**SERTRALINE), row(name="fish oil", strength_mg="1000"), ALPRAZOLAM
    )

    medications = list(submission.medications.all())
    assert [(m.position, m.drug_key, m.other_name) for m in medications] == [
        (1, "sertraline", ""),
        (2, "", "fish oil"),
        (3, "alprazolam", ""),
    ]
    assert medications[2].strength_mg == Decimal("0.5")
    assert medications[2].frequency == "twice_daily"
    assert medications[0].name == "sertraline (Zoloft)"
    assert medications[1].class_label == "Not on the clinic's list"


def test_the_intake_version_shows_its_list(signed_in, nina, patient):
    submit(patient, nina, row(**SERTRALINE))

    page = signed_in(nina).get(f"/staff/patients/{patient.public_id}/intake/1/")

    assert "sertraline (Zoloft)" in page.text
    assert "50 mg, 1 each time, once a day" in page.text


def test_a_listed_name_typed_in_full_is_recognised(patient, nina):
    submission = submit(patient, nina, row(name="XANAX"), row(name="Klonopin"))

    assert [m.drug_key for m in submission.medications.all()] == ["alprazolam", "clonazepam"]


def test_a_wrong_medicine_saves_nothing_and_says_which(patient, nina):
    with pytest.raises(ValidationError) as caught:
        submit(patient, nina, row(**SERTRALINE), row(name="aspirin", strength_mg="-1"))

    assert "Medicine 2: Enter more than 0 mg" in caught.value.message_dict["medications"][0]
    assert IntakeSubmission.objects.count() == 0
    assert Medication.objects.count() == 0


def test_an_earlier_version_keeps_its_own_list(patient, nina):
    first = submit(patient, nina, row(**SERTRALINE))
    second = submit(patient, nina, row(drug_key="bupropion"))

    assert [m.drug_key for m in first.medications.all()] == ["sertraline"]
    assert [m.drug_key for m in second.medications.all()] == ["bupropion"]


def test_the_diff_shows_what_changed_on_the_list(signed_in, nina, patient):
    submit(patient, nina, row(**SERTRALINE))
    submit(patient, nina, row(**SERTRALINE), ALPRAZOLAM)

    page = signed_in(nina).get(f"/staff/patients/{patient.public_id}/intake/diff/")

    changes = page.text.split('data-testid="medicine-changes"')[1]
    assert "New or changed on version 2" in changes
    assert "alprazolam (Xanax)" in changes
    assert "sertraline" not in changes


# --- A change after approval -------------------------------------------------------------


def test_a_changed_list_after_approval_makes_the_decision_stale(patient, nina, phil):
    submission = submit(patient, nina, row(**SERTRALINE))
    MeasurementFactory(patient=patient)
    QuestionnaireResponseFactory(
        patient=patient, answers=dict.fromkeys(definition_for("phq9").item_keys, 0)
    )
    from patients.services.screening import screening_run

    screening = screening_run(patient=patient, actor=nina)
    decision_record(
        patient=patient,
        screening=screening,
        decision="approve",
        reason="Fine.",
        actor=phil,
        # Whatever the intake left unrecorded, approving over it is acknowledged.
        missing_facts_acknowledged=True,
        missing_facts_note="Asked at the consultation: nothing of concern.",
    )
    assert course_scheduling_allowed(patient)[0] is True

    submit(patient, nina, row(**SERTRALINE), ALPRAZOLAM)

    allowed, reason = course_scheduling_allowed(patient)
    assert allowed is False
    assert "new information" in reason
    assert submission.version == 1


# --- Staff enter it ----------------------------------------------------------------------


def staff_post(answers, rows):
    data = form_data(answers) | {"med-TOTAL_FORMS": str(len(rows)), "med-INITIAL_FORMS": "0"}
    for index, fields in enumerate(rows):
        data |= {f"med-{index}-{name}": value for name, value in fields.items()}
    return data


def test_staff_enter_the_list_with_the_intake(signed_in, nina, patient):
    url = f"/staff/patients/{patient.public_id}/intake/new/"
    page = signed_in(nina).get(url)
    assert '<datalist id="medicine-names">' in page.text
    assert '<option value="alprazolam (Xanax)">' in page.text

    response = signed_in(nina).post(
        url,
        staff_post(
            complete_answers(takes_medicines="yes"),
            [
                row(name="alprazolam (Xanax)", strength_mg="0.5", frequency="twice_daily"),
                row(name="St John's wort"),
                row(),  # a row left blank (as the browser sends it) adds nothing
                row(name="sertraline", **{"DELETE": "on"}),  # removed before saving
            ],
        ),
    )

    assert response.status_code == 302, response.context and response.context["medicines"].errors
    intake = IntakeSubmission.objects.get(patient=patient)
    assert [(m.drug_key, m.other_name) for m in intake.medications.all()] == [
        ("alprazolam", ""),
        ("", "St John's wort"),
    ]


def test_the_staff_form_starts_from_the_latest_list(signed_in, nina, patient):
    submit(patient, nina, row(**SERTRALINE))

    page = signed_in(nina).get(f"/staff/patients/{patient.public_id}/intake/new/")

    assert page.context["medicines"].initial[0]["name"] == "sertraline (Zoloft)"


def test_a_wrong_row_on_the_staff_form_says_what_to_fix_and_saves_nothing(signed_in, nina, patient):
    response = signed_in(nina).post(
        f"/staff/patients/{patient.public_id}/intake/new/",
        staff_post(complete_answers(), [row(name="sertraline", strength_mg="0")]),
    )

    assert response.status_code == 200
    assert "Enter more than 0 mg" in response.text
    assert not IntakeSubmission.objects.exists()


# --- The patient adds them through the link ----------------------------------------------


@pytest.fixture
def token(patient):
    _, token = link_create(patient=patient, purpose=PatientLink.Purpose.INTAKE, created_by=None)
    return token


def step_url(token):
    return f"/p/intake/{token}/?step=medications"


def test_the_search_without_javascript_offers_the_matching_medicines(client, token):
    response = client.post(step_url(token), {"action": "search", "add-name": "xan"})

    assert response.status_code == 200
    assert 'value="alprazolam"' in response.text
    assert "alprazolam (Xanax)" in response.text
    assert "None of these: add" in response.text


def test_the_search_as_you_type_answers_with_just_the_choices(client, token):
    response = client.post(
        f"/p/intake/{token}/medicines/", {"add-name": "zol"}, headers={"HX-Request": "true"}
    )

    assert response.status_code == 200
    assert 'name="add-drug_key" value="sertraline"' in response.text
    assert "<html" not in response.text


def test_the_search_never_puts_the_medicine_in_the_url(client, token):
    assert client.get(f"/p/intake/{token}/medicines/?add-name=xanax").status_code == 405


def test_the_search_refuses_a_bad_link(client):
    response = client.post("/p/intake/not-a-token/medicines/", {"add-name": "xan"})

    assert response.status_code == 404


def test_the_patient_adds_and_removes_medicines(client, patient, token):
    added = client.post(
        step_url(token),
        {
            "action": "add",
            "add-name": "xan",
            "add-drug_key": "alprazolam",
            "add-strength_mg": "0.5",
            "add-units_each_time": "1",
            "add-frequency": "twice_daily",
            "add-status": "current",
        },
    )
    assert added.status_code == 302
    assert added["Location"].endswith("?step=medications#medicines")
    client.post(
        step_url(token),
        {"action": "add", "add-name": "my vitamin", "add-drug_key": "", "add-status": "current"},
    )

    page = client.get(step_url(token))
    assert "alprazolam (Xanax)" in page.text
    assert "0.5 mg, 1 each time, twice a day" in page.text
    assert "my vitamin" in page.text

    client.post(step_url(token), {"action": "remove-1"})

    link = PatientLink.objects.get(patient=patient)
    assert [(r["drug_key"], r["other_name"]) for r in draft_medications(link)] == [
        ("", "my vitamin")
    ]


def test_a_medicine_typed_but_not_added_is_added_before_moving_on(client, patient, token):
    response = client.post(
        step_url(token),
        {
            "action": "next",
            "takes_medicines": "yes",
            "add-name": "Zoloft",
            "add-strength_mg": "50",
            "add-status": "current",
        },
    )

    assert response.status_code == 302
    assert response["Location"].endswith("?step=allergies")
    link = PatientLink.objects.get(patient=patient)
    assert [r["drug_key"] for r in draft_medications(link)] == ["sertraline"]


def test_a_wrong_medicine_typed_but_not_added_stops_moving_on(client, patient, token):
    response = client.post(
        step_url(token),
        {"action": "next", "add-name": "Zoloft", "add-strength_mg": "-2", "add-status": "current"},
    )

    assert response.status_code == 200
    assert "Enter more than 0 mg" in response.text
    assert draft_medications(PatientLink.objects.get(patient=patient)) == []


def test_a_medicine_without_a_name_is_not_added(client, patient, token):
    response = client.post(
        step_url(token), {"action": "add", "add-name": "", "add-status": "current"}
    )

    assert response.status_code == 200
    assert "Type the medicine&#x27;s name" in response.text
    assert draft_medications(PatientLink.objects.get(patient=patient)) == []


def test_removing_a_medicine_that_is_no_longer_there_changes_nothing(client, token):
    response = client.post(step_url(token), {"action": "remove-3"})

    assert response.status_code == 302


def test_the_list_is_sent_with_the_answers(client, patient, token):
    from patients.tests.test_intake_public import fill_in_every_step

    client.post(
        step_url(token),
        {"action": "add", "add-name": "", "add-drug_key": "lamotrigine", "add-status": "current"},
    )
    fill_in_every_step(client, token)  # says "no medicines now"
    review = client.get(f"/p/intake/{token}/?step=review")
    assert "lamotrigine (Lamictal)" in review.text
    assert "You said you take no medicines at the moment, but 1 on the list" in review.text
    assert client.post(f"/p/intake/{token}/?step=review").status_code == 200
    assert not IntakeSubmission.objects.exists()
    client.post(step_url(token), {"takes_medicines": "yes", "action": "review"})

    response = client.post(f"/p/intake/{token}/?step=review")

    assert response.status_code == 302
    intake = IntakeSubmission.objects.get(patient=patient)
    assert [m.drug_key for m in intake.medications.all()] == ["lamotrigine"]


# --- Shown and confirmed on the chart ----------------------------------------------------


def test_the_chart_shows_the_list_and_who_confirmed_it(signed_in, nina, patient):
    intake = submit(patient, nina, row(**SERTRALINE))
    chart = f"/staff/patients/{patient.public_id}/"
    page = signed_in(nina).get(chart)
    assert "sertraline (Zoloft)" in page.text
    assert "Antidepressant (SSRI)" in page.text
    assert 'data-testid="medications-unconfirmed"' in page.text

    response = signed_in(nina).post(
        f"/staff/patients/{patient.public_id}/medications/confirm/",
        {"version": "1", "note": "Takes it in the morning."},
    )

    assert response.status_code == 302
    confirmed = MedicationReconciliation.objects.get()
    assert (confirmed.intake, confirmed.confirmed_by) == (intake, nina)
    page = signed_in(nina).get(chart)
    assert "Confirmed with the patient by Nina Nurse" in page.text
    assert AuditEvent.objects.filter(
        object_type="patients.medicationreconciliation", object_id=str(confirmed.pk)
    ).exists()


def test_an_older_list_cannot_be_confirmed(signed_in, nina, patient):
    submit(patient, nina, row(**SERTRALINE))
    submit(patient, nina)

    response = signed_in(nina).post(
        f"/staff/patients/{patient.public_id}/medications/confirm/", {"version": "1"}, follow=True
    )

    assert "A newer intake version has a newer medication list" in response.text
    assert not MedicationReconciliation.objects.exists()


def test_an_unknown_version_is_a_clear_message(signed_in, nina, patient):
    submit(patient, nina)

    response = signed_in(nina).post(
        f"/staff/patients/{patient.public_id}/medications/confirm/", {"version": "x"}, follow=True
    )

    assert "That intake version was not found" in response.text


def test_only_clinicians_confirm_the_list(patient, nina, fran):
    intake = submit(patient, nina)

    with pytest.raises(PermissionDenied):
        medication_list_confirm(actor=fran, patient=patient, intake=intake)
