"""The patient chart: what each role sees, what it records in the audit log, what it costs."""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta

import pytest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import AuditEvent, Location
from patients.chart import CHART_QUESTIONNAIRES
from patients.models import ConsentDocument, ConsentSignature, Patient, PatientStatus, SafetyAlert
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
from tests.clock import travel_to

CLINICAL = ["nina", "phil"]
NON_CLINICAL = ["fran", "alice"]

# The session and the user, the patient (with its location and, for billing, its balance and
# whether any package was sold to them: none here, so their packages are not read), the audit
# event, and the versions of the rows the kept sections show, read in one query: the summary
# and the consents (patients.chart_sections) and the appointments and courses (scheduling).
SUMMARY_QUERIES = 5
# The same, the versions query reading those of the clinical sections (patients.chart_sections),
# the infusion sessions' list (infusions) and the outcomes (outcomes) too, then the audit trail,
# when the sections are kept.
CHART_QUERIES = 6
# When the clinical sections are drawn: the latest screening, the questionnaires (the latest
# ones, with the latest PHQ-9 and the latest baseline PHQ-9 however old), the intakes (with
# the latest one's answer on suicidal thoughts), the decisions (the first is the current
# one), the measurements (the first is the latest), the open safety alerts and the next-day
# check-ins; the latest intake's medication list and its latest confirmation.
CHART_QUERIES_DRAWN = CHART_QUERIES + 9

ANEURYSM = {
    "rule_id": "vascular.aneurysm_avm",
    "severity": "contraindicated",
    "reason": "Aneurysmal vascular disease or arteriovenous malformation: could rupture.",
    "value": "yes",
    "urgent": False,
    "missing": False,
}
ITEM9 = {
    "rule_id": "suicidality.phq9_item9",
    "severity": "review",
    "reason": "PHQ-9 item 9 answered 2: urgent clinician contact the same day.",
    "value": "2 of 3",
    "urgent": True,
    "missing": False,
}
PREGNANCY_MISSING = {
    "rule_id": "missing.pregnancy",
    "severity": "review",
    "reason": "Pregnancy status not recorded.",
    "value": "not recorded",
    "urgent": False,
    "missing": True,
}

# What only clinicians may read, as it appears on a full chart.
CLINICAL_TEXT = [
    "Intake versions",
    "Screening result",
    "vascular.aneurysm_avm",
    "Aneurysmal vascular disease",
    "Decision history",
    "Measurements",
    "131/87 mmHg",
    "Questionnaire scores",
    "PHQ-9",
    "Suicidal thoughts",
    "Audit trail",
    "72.5 kg",
]


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


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
def patient(riverside) -> Patient:
    return PatientFactory(
        legal_first_name="Jordan",
        legal_last_name="Rivera",
        preferred_name="Jo",
        date_of_birth=date(1984, 3, 27),
        email="jordan.rivera@example.com",
        mobile="+12125550142",
        preferred_location=riverside,
        conditions=["trd", "ptsd"],
        weight_kg="72.5",
        status=PatientStatus.AWAITING_DECISION,
    )


@pytest.fixture
def full_record(patient, phil, nina) -> Patient:
    """A patient with something in every section of the chart."""
    CommunicationConsentFactory(patient=patient, channel="sms", granted=True, method="by phone")
    IntakeSubmissionFactory(patient=patient, version=1, entered_by=nina)
    intake = IntakeSubmissionFactory(patient=patient, version=2, entered_by=nina)
    measurement = MeasurementFactory(patient=patient, systolic=131, diastolic=87, taken_by=nina)
    phq9 = QuestionnaireResponseFactory(
        patient=patient, answers={f"q{n}": 1 for n in range(1, 9)} | {"q9": 2}
    )
    screening = ScreeningResultFactory(
        patient=patient,
        intake=intake,
        measurement=measurement,
        phq9=phq9,
        outcome="contraindicated",
        findings=[ANEURYSM, ITEM9, PREGNANCY_MISSING],
        ruleset_version="2026.11-1",
    )
    ScreeningDecisionFactory(
        patient=patient,
        screening=screening,
        decided_by=phil,
        decision="defer",
        needed="A neurology opinion on the aneurysm.",
    )
    return patient


def chart_url(patient: Patient) -> str:
    return f"/staff/patients/{patient.public_id}/"


def consent_item(response, channel: str) -> str:
    """The text of the chart's contact-consent line for one channel, without tags."""
    match = re.search(
        rf'data-testid="contact-consent-{channel}">(.*?)</li>', response.content.decode(), re.S
    )
    assert match is not None
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split())


def views_recorded() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=Action.VIEW).order_by("id"))


# --- Who sees what ------------------------------------------------------------------------


@pytest.mark.parametrize("user", CLINICAL + NON_CLINICAL)
def test_everyone_who_sees_patients_gets_the_summary(signed_in, full_record, user, request):
    response = signed_in(request.getfixturevalue(user)).get(chart_url(full_record))

    assert response.status_code == 200
    content = response.content.decode()
    for text in [
        "Jo Rivera",
        "Jordan Rivera",
        "1984-03-27",
        "jordan.rivera@example.com",
        "+12125550142",
        "Riverside",
        "Treatment-resistant depression, PTSD",
        "Awaiting screening decision",
    ]:
        assert text in content


@pytest.mark.parametrize("user", CLINICAL + NON_CLINICAL)
def test_everyone_who_sees_patients_gets_contact_consent_per_channel(
    signed_in, full_record, user, request
):
    response = signed_in(request.getfixturevalue(user)).get(chart_url(full_record))

    by_channel = {c.channel: c for c in response.context["chart"].contact_consents}
    assert by_channel["sms"].granted
    assert by_channel["email"].latest is None
    sms = consent_item(response, "sms")
    assert "Given" in sms
    assert "by phone" in sms
    assert "Not recorded" in consent_item(response, "email")


@pytest.mark.parametrize("user", CLINICAL)
def test_clinicians_get_the_clinical_record(signed_in, full_record, user, request):
    response = signed_in(request.getfixturevalue(user)).get(chart_url(full_record))

    content = response.content.decode()
    for text in CLINICAL_TEXT:
        assert text in content, text


@pytest.mark.parametrize("user", NON_CLINICAL)
def test_front_desk_and_clinic_admins_get_no_clinical_detail(signed_in, full_record, user, request):
    response = signed_in(request.getfixturevalue(user)).get(chart_url(full_record))

    assert response.context["chart"].clinical is None
    content = response.content.decode()
    for text in CLINICAL_TEXT:
        assert text not in content, text
    for testid in [
        "alerts",
        "intakes",
        "medications",
        "screening",
        "decisions",
        "measurements",
        "audit-trail",
    ]:
        assert f'data-testid="{testid}"' not in content


def test_a_content_editor_cannot_open_a_chart(signed_in, edie, full_record):
    response = signed_in(edie).get(chart_url(full_record))

    assert response.status_code == 403
    assert views_recorded() == []


def test_it_asks_visitors_to_sign_in(client, full_record):
    response = client.get(chart_url(full_record))

    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/")


def test_an_unknown_patient_is_not_found(signed_in, nina):
    response = signed_in(nina).get(f"/staff/patients/{uuid.uuid4()}/")

    assert response.status_code == 404


# --- The clinical sections ----------------------------------------------------------------


def test_it_shows_every_finding_of_the_latest_screening_with_its_rule_set(
    signed_in, phil, full_record
):
    ScreeningResultFactory(
        patient=full_record,
        findings=[ANEURYSM | {"reason": "An older run."}],
        created_at=timezone.now() - timedelta(days=3),
    )

    response = signed_in(phil).get(chart_url(full_record))

    content = response.content.decode()
    assert "rule set 2026.11-1" in content
    assert "An older run." not in content
    for finding in [ANEURYSM, ITEM9, PREGNANCY_MISSING]:
        for key in ["rule_id", "reason", "value"]:
            assert finding[key] in content
    assert "Contraindicated</span>" in content


def test_it_alerts_clinicians_to_contraindications_and_suicidal_thoughts(
    signed_in, nina, full_record
):
    response = signed_in(nina).get(chart_url(full_record))

    alerts = response.context["chart"].clinical.alerts
    assert [alert.level for alert in alerts] == ["urgent", "contraindicated"]
    assert "contact the patient today" in alerts[0].title
    assert "vascular.aneurysm_avm" in alerts[1].title


def test_a_positive_question_9_alerts_even_before_screening(signed_in, nina, patient):
    QuestionnaireResponseFactory(
        patient=patient, context="follow_up", answers={f"q{n}": 0 for n in range(1, 9)} | {"q9": 1}
    )

    response = signed_in(nina).get(chart_url(patient))

    [alert] = response.context["chart"].clinical.alerts
    assert alert.level == "urgent"
    assert b"Urgent: Suicidal thoughts reported" in response.content


def test_a_positive_phq9_older_than_the_questionnaires_listed_still_raises_the_alert(
    signed_in, nina, patient
):
    QuestionnaireResponseFactory(
        patient=patient,
        answers={f"q{n}": 0 for n in range(1, 9)} | {"q9": 2},
        completed_at=timezone.now() - timedelta(days=30),
    )
    for days in range(CHART_QUESTIONNAIRES + 1):
        QuestionnaireResponseFactory(
            patient=patient,
            instrument="gad7",
            context="follow_up",
            completed_at=timezone.now() - timedelta(days=days),
        )

    response = signed_in(nina).get(chart_url(patient))

    clinical = response.context["chart"].clinical
    assert [alert.level for alert in clinical.alerts] == ["urgent"]
    assert len(clinical.questionnaires) == CHART_QUESTIONNAIRES
    assert {q.response.instrument for q in clinical.questionnaires} == {"gad7"}


def test_a_baseline_phq9_older_than_the_questionnaires_listed_still_decides_staleness(
    signed_in, phil, full_record
):
    later = timezone.now() + timedelta(days=1)
    for _ in range(CHART_QUESTIONNAIRES + 1):
        QuestionnaireResponseFactory(
            patient=full_record, instrument="gad7", context="follow_up", completed_at=later
        )

    fresh = signed_in(phil).get(chart_url(full_record)).context["chart"].clinical
    # A new baseline PHQ-9 after the screened one, older than the questionnaires listed.
    QuestionnaireResponseFactory(patient=full_record, completed_at=later - timedelta(hours=1))
    stale = signed_in(phil).get(chart_url(full_record)).context["chart"].clinical

    assert fresh.decision_is_stale is False
    assert stale.decision_is_stale is True


def test_the_urgent_flag_follows_the_safety_alert_and_its_follow_up(signed_in, nina, patient):
    def positive_phq9():
        answers = {f"q{n}": 0 for n in range(1, 9)} | {"q9": 1}
        response = QuestionnaireResponseFactory(patient=patient, answers=answers)
        return safety_alert_raise(
            patient=patient, source=SafetyAlert.Source.PHQ9_ITEM9, questionnaire=response
        )

    alert = positive_phq9()
    client = signed_in(nina)
    open_alert = client.get(chart_url(patient))
    safety_alert_resolve(actor=nina, alert=alert, follow_up_note="Called her; safe, plan agreed.")
    followed_up = client.get(chart_url(patient))
    travel_to(timezone.now() + timedelta(days=7))
    positive_phq9()  # a week later, question 9 above 0 again
    again = signed_in(nina).get(chart_url(patient))

    # Open: said once, by the safety alert with its follow-up form.
    assert open_alert.context["chart"].clinical.alerts == []
    assert open_alert.content.decode().count("must contact the patient today") == 1
    assert b'data-testid="safety-alert-open"' in open_alert.content
    # Followed up after the report: nothing urgent left, the follow-up in the history.
    assert followed_up.context["chart"].clinical.alerts == []
    assert b"must contact the patient today" not in followed_up.content
    assert b"safe, plan agreed." in followed_up.content
    # A new report opens a new alert.
    assert again.content.decode().count("must contact the patient today") == 1
    assert b'data-testid="safety-alert-open"' in again.content


def test_an_address_without_a_street_line_is_shown_as_far_as_it_goes(signed_in, fran, patient):
    Patient.objects.filter(pk=patient.pk).update(
        address_line1="", city="Denver", region="CO", postal_code="80202", country="US"
    )

    html = signed_in(fran).get(chart_url(patient)).content.decode()

    assert "Denver, CO 80202" in html
    assert 'data-testid="address-incomplete"' in html


def test_a_calm_record_has_no_alerts(signed_in, nina, patient):
    ScreeningResultFactory(patient=patient, findings=[PREGNANCY_MISSING], outcome="review")

    response = signed_in(nina).get(chart_url(patient))

    assert response.context["chart"].clinical.alerts == []
    assert b'data-testid="alerts"' not in response.content


def test_it_lists_intake_versions_with_links_to_each_and_to_the_changes(
    signed_in, nina, full_record
):
    response = signed_in(nina).get(chart_url(full_record))

    content = response.content.decode()
    base = f"/staff/patients/{full_record.public_id}/intake/"
    assert f'href="{base}2/"' in content
    assert f'href="{base}1/"' in content
    assert f'href="{base}diff/?from=1&amp;to=2"' in content
    assert [intake.version for intake in response.context["chart"].clinical.intakes] == [2, 1]


def test_it_shows_the_decision_history(signed_in, phil, full_record):
    response = signed_in(phil).get(chart_url(full_record))

    content = response.content.decode()
    assert "Deferred" in content
    assert "A neurology opinion on the aneurysm." in content
    assert "Phil Physician" in content


def test_it_says_a_decision_is_stale_after_a_newer_measurement(signed_in, phil, full_record):
    fresh = signed_in(phil).get(chart_url(full_record))
    MeasurementFactory(patient=full_record, taken_at=timezone.now() + timedelta(minutes=1))

    stale = signed_in(phil).get(chart_url(full_record))

    assert not fresh.context["chart"].clinical.decision_is_stale
    assert b"stale: needs a new decision" not in fresh.content
    assert stale.context["chart"].clinical.decision_is_stale
    assert b"stale: needs a new decision" in stale.content


def test_it_says_when_consent_is_not_signed(signed_in, nina, full_record):
    response = signed_in(nina).get(chart_url(full_record))

    assert b"Not signed" in response.content


def test_it_shows_the_current_consent_signature(signed_in, nina, full_record):
    document = ConsentDocument.objects.create(
        title="Consent to ketamine infusion",
        version=1,
        sections=[{"heading": "Risks", "text": "Dissociation."}],
        published_at=timezone.now(),
    )
    signature = ConsentSignature.objects.create(
        patient=full_record,
        document=document,
        signed_name="Jordan Rivera",
        sections_acknowledged=[0],
        document_snapshot={"title": document.title, "version": 1},
        method="tablet",
        witnessed_by=nina,
    )

    response = signed_in(nina).get(chart_url(full_record))

    content = response.content.decode()
    assert "Not signed" not in content
    assert "Consent to ketamine infusion (version 1)" in content
    assert f"/staff/patients/{full_record.public_id}/consent/{signature.public_id}/" in content


def test_it_lists_measurements_and_scores_latest_first(signed_in, nina, patient):
    now = timezone.now()
    MeasurementFactory(patient=patient, systolic=150, taken_at=now - timedelta(days=2))
    MeasurementFactory(patient=patient, systolic=120, taken_at=now)
    QuestionnaireResponseFactory(patient=patient, completed_at=now - timedelta(days=1))
    QuestionnaireResponseFactory(
        patient=patient, instrument="pcl5", answers={f"q{n}": 2 for n in range(1, 21)}
    )

    response = signed_in(nina).get(chart_url(patient))

    clinical = response.context["chart"].clinical
    assert [m.systolic for m in clinical.measurements] == [120, 150]
    assert [q.definition.short_name for q in clinical.questionnaires] == ["PCL-5", "PHQ-9"]
    content = response.content.decode()
    assert "40/80 (probable PTSD)" in content
    assert "9/27 (mild)" in content


def test_clinicians_get_links_to_the_questionnaires_that_fit_the_conditions(
    signed_in, nina, patient
):
    response = signed_in(nina).get(chart_url(patient))

    content = response.content.decode()
    base = f"/staff/patients/{patient.public_id}/questionnaires/new/"
    assert f'href="{base}phq9/"' in content
    assert f'href="{base}pcl5/"' in content
    assert f'href="{base}pain_nrs/"' not in content


def test_the_audit_trail_shows_this_patients_events_only(signed_in, nina, phil, full_record):
    other = PatientFactory()
    audit_record(actor=phil, action=Action.UPDATE, target=other, summary="changed city")
    measurement = MeasurementFactory(patient=full_record)
    audit_record(actor=phil, action=Action.CREATE, target=measurement, summary="recorded BP")

    response = signed_in(nina).get(chart_url(full_record))

    events = response.context["audit_events"]
    assert [event.summary for event in events] == ["viewed the chart", "recorded BP"]
    assert "Phil Physician" in response.content.decode()


# --- Audit and cost -----------------------------------------------------------------------


@pytest.mark.parametrize("user", CLINICAL + NON_CLINICAL)
def test_every_view_of_a_chart_is_in_the_audit_log(signed_in, full_record, user, request):
    person = request.getfixturevalue(user)
    client = signed_in(person)

    client.get(chart_url(full_record))
    client.get(chart_url(full_record))

    events = views_recorded()
    assert len(events) == 2
    assert {(e.actor, e.object_type, e.object_id) for e in events} == {
        (person, "patients.patient", str(full_record.public_id))
    }
    assert "Rivera" not in events[0].summary + events[0].object_label


def _grow(patient: Patient, count: int, nina, phil) -> None:
    for version in range(1, count + 1):
        IntakeSubmissionFactory(patient=patient, version=version, entered_by=nina)
        MeasurementFactory(patient=patient, taken_by=nina)
        QuestionnaireResponseFactory(patient=patient, entered_by=nina)
        CommunicationConsentFactory(patient=patient, channel="email", granted=version % 2 == 1)
        screening = ScreeningResultFactory(patient=patient, findings=[ANEURYSM, ITEM9])
        ScreeningDecisionFactory(patient=patient, screening=screening, decided_by=phil)
        audit_record(actor=nina, action=Action.VIEW, target=patient, summary="viewed the chart")


@pytest.mark.parametrize("count", [1, 5])
def test_the_chart_costs_the_same_number_of_queries_however_long_the_record(
    signed_in, nina, phil, patient, django_assert_num_queries, count
):
    _grow(patient, count, nina, phil)
    client = signed_in(phil)
    client.get(chart_url(patient))  # the session's first-request writes
    MeasurementFactory(patient=patient, taken_by=nina)  # the clinical sections are drawn again

    with django_assert_num_queries(CHART_QUERIES_DRAWN):
        drawn = client.get(chart_url(patient))
    with django_assert_num_queries(CHART_QUERIES):
        kept = client.get(chart_url(patient))

    assert drawn.content.decode().count("mmHg</td>") == count + 1
    assert kept.content.decode().count("mmHg</td>") == count + 1


@pytest.mark.parametrize("count", [1, 5])
def test_the_summary_for_the_front_desk_costs_a_few_queries(
    signed_in, fran, nina, phil, patient, django_assert_num_queries, count
):
    _grow(patient, count, nina, phil)
    client = signed_in(fran)
    client.get(chart_url(patient))

    with django_assert_num_queries(SUMMARY_QUERIES):
        client.get(chart_url(patient))


def test_an_intake_reporting_suicidal_thoughts_raises_the_urgent_alert(signed_in, nina, patient):
    IntakeSubmissionFactory(patient=patient, answers={"suicidal_thoughts": "yes"})

    response = signed_in(nina).get(chart_url(patient))

    alerts = response.context["chart"].clinical.alerts
    assert [alert.level for alert in alerts] == ["urgent"]
    assert "latest intake answers yes" in alerts[0].detail
