"""Who gets what of a patient's record: every persona against every patient page and API
endpoint, and a patient's link against everyone else's data.

The expectations are written out here from the issue, on purpose not derived from
``clinic.permissions``: the front desk (and clinic admins) see demographics and status
but no clinical detail; nurses and physicians see and record the clinical record; only
physicians decide; only clinic admins manage consent documents; content editors and
signed-out visitors see no patient at all. If the code and this table disagree, the
test says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import quote

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.utils import timezone

from clinic.audit import Action
from clinic.models import AuditEvent
from patients.chart import patient_audit_trail
from patients.links import LinkError, link_create
from patients.models import (
    ConsentDocument,
    ConsentSignature,
    IntakeSubmission,
    Measurement,
    Patient,
    PatientLink,
    PatientStatus,
    ScreeningDecision,
    ScreeningResult,
)
from patients.questionnaires import definition_for
from patients.services.consent import (
    consent_document_create_draft,
    consent_document_publish,
    consent_sign,
)
from patients.services.intake import intake_submit
from patients.services.measurements import measurement_record
from patients.tests.factories import (
    IntakeSubmissionFactory,
    PatientFactory,
    QuestionnaireResponseFactory,
)
from patients.tests.test_intake import complete_answers, form_data

SIGNED_IN = ["fran", "nina", "phil", "alice", "edie"]
SIGNED_OUT = ["olga", "anonymous"]  # olga's account is deactivated
PERSONAS = [*SIGNED_IN, *SIGNED_OUT]

# Who may do what, from the issue.
SEES_PATIENTS = {"fran", "nina", "phil", "alice"}  # demographics, status, contact, links
CLINICIANS = {"nina", "phil"}  # clinical detail, and recording it
PHYSICIANS = {"phil"}  # screening decisions
CONSENT_ADMINS = {"alice"}  # consent documents

BP_REASON = "Blood pressure 150/95 mmHg is at or above 140/90"
CONSENT_SECTIONS = [
    {"heading": "What the treatment is", "text": "Ketamine given slowly through a drip."},
    {"heading": "Side effects", "text": "Dizziness, nausea, a rise in blood pressure."},
]


@dataclass(frozen=True)
class Page:
    """One request, and who may make it: ``allowed`` get ``status``; other staff get 403,
    signed-out visitors the sign-in page (401 from the API)."""

    name: str
    method: str
    path: str  # with {patient}, {screening}, {signature}, {document} or {draft}
    allowed: set[str]
    status: int = 200
    data: dict[str, str] = field(default_factory=dict)

    @property
    def is_api(self) -> bool:
        return self.path.startswith("/api/")

    @property
    def about_patient(self) -> bool:
        return "{patient}" in self.path


P = "/staff/patients/{patient}"
# An approval, acknowledging whatever the scene's result has not recorded, with what the
# patient said.
APPROVAL = {
    "screening": "{screening}",
    "decision": "approve",
    "reason": "BP rechecked: 132/84.",
    "missing_facts_acknowledged": "on",
    "missing_facts_note": "Asked today: no thoughts of self-harm; PHQ-9 at the first visit.",
}
PAGES = [
    Page("patient list", "GET", "/staff/patients/", SEES_PATIENTS),
    Page("patient list search", "GET", "/staff/patients/?q=Lovelace", SEES_PATIENTS),
    Page("add a patient", "GET", "/staff/patients/new/", SEES_PATIENTS),
    Page("chart", "GET", f"{P}/", SEES_PATIENTS),
    Page("edit details", "GET", f"{P}/edit/", SEES_PATIENTS),
    Page("contact consent", "GET", f"{P}/contact-consent/", SEES_PATIENTS),
    Page("measurement form", "GET", f"{P}/measurements/new/", CLINICIANS),
    Page(
        "record a measurement",
        "POST",
        f"{P}/measurements/new/",
        CLINICIANS,
        302,
        {"systolic": "128", "diastolic": "82", "heart_rate": "70", "spo2": "98"},
    ),
    Page("PHQ-9 form", "GET", f"{P}/questionnaires/new/phq9/", CLINICIANS),
    Page("intake form (staff)", "GET", f"{P}/intake/new/", CLINICIANS),
    Page("intake version", "GET", f"{P}/intake/1/", CLINICIANS),
    Page("intake diff", "GET", f"{P}/intake/diff/?from=1&to=2", CLINICIANS),
    Page("make an intake link", "POST", f"{P}/intake/link/", SEES_PATIENTS),
    Page("run the screening", "POST", f"{P}/screening/run/", CLINICIANS, 302),
    Page("decision form", "GET", f"{P}/decision/new/", PHYSICIANS),
    Page(
        "record a decision",
        "POST",
        f"{P}/decision/new/",
        PHYSICIANS,
        302,
        APPROVAL,
    ),
    Page("make a consent link", "POST", f"{P}/consent/link/", SEES_PATIENTS),
    Page("consent on a clinic tablet", "GET", f"{P}/consent/tablet/", SEES_PATIENTS),
    Page("signed consent (printable)", "GET", f"{P}/consent/{{signature}}/", SEES_PATIENTS),
    Page("consent documents", "GET", "/staff/patients/consent-documents/", CONSENT_ADMINS),
    # A draft exists, so "new" leads to it.
    Page(
        "new consent version", "GET", "/staff/patients/consent-documents/new/", CONSENT_ADMINS, 302
    ),
    Page(
        "consent document",
        "GET",
        "/staff/patients/consent-documents/{document}/",
        CONSENT_ADMINS,
    ),
    Page(
        "edit a consent draft",
        "GET",
        "/staff/patients/consent-documents/{draft}/edit/",
        CONSENT_ADMINS,
    ),
    Page(
        "publish a consent draft",
        "GET",
        "/staff/patients/consent-documents/{draft}/publish/",
        CONSENT_ADMINS,
    ),
    Page("API: patients", "GET", "/api/v1/patients/", SEES_PATIENTS),
    Page("API: patient", "GET", "/api/v1/patients/{patient}/", SEES_PATIENTS),
    Page("API: intakes", "GET", "/api/v1/patients/{patient}/intakes/", CLINICIANS),
    Page("API: measurements", "GET", "/api/v1/patients/{patient}/measurements/", CLINICIANS),
    Page(
        "API: record a measurement",
        "POST",
        "/api/v1/patients/{patient}/measurements/",
        CLINICIANS,
        201,
        {"systolic": "128", "diastolic": "82", "heart_rate": "70", "spo2": "98"},
    ),
    Page("API: questionnaires", "GET", "/api/v1/patients/{patient}/questionnaires/", CLINICIANS),
    Page("API: screening", "GET", "/api/v1/patients/{patient}/screening/", CLINICIANS),
    Page("API: decisions", "GET", "/api/v1/patients/{patient}/decisions/", CLINICIANS),
    Page(
        "API: record a decision",
        "POST",
        "/api/v1/patients/{patient}/decisions/",
        PHYSICIANS,
        201,
        APPROVAL,
    ),
]

# Records a request may create; a read or a refusal creates none of them.
RECORDS = [
    Patient,
    PatientLink,
    IntakeSubmission,
    Measurement,
    ScreeningResult,
    ScreeningDecision,
    ConsentDocument,
    ConsentSignature,
]


@dataclass(frozen=True)
class Scene:
    """Ada has a full record; Bea is another patient."""

    ada: Patient
    bea: Patient
    screening: ScreeningResult
    signature: ConsentSignature
    document: ConsentDocument
    draft: ConsentDocument

    def fill(self, text: str) -> str:
        return text.format(
            patient=self.ada.public_id,
            screening=self.screening.public_id,
            signature=self.signature.public_id,
            document=self.document.public_id,
            draft=self.draft.public_id,
        )


def publish_consent(alice, title: str = "Consent to treatment") -> ConsentDocument:
    draft = consent_document_create_draft(
        actor=alice, title=title, introduction="Please read.", sections=CONSENT_SECTIONS
    )
    return consent_document_publish(actor=alice, document=draft)


@pytest.fixture
def scene(alice, nina) -> Scene:
    ada = PatientFactory(
        legal_first_name="Ada", legal_last_name="Lovelace", date_of_birth=date(1985, 12, 10)
    )
    bea = PatientFactory(legal_first_name="Bea", legal_last_name="Bishop")
    IntakeSubmissionFactory(patient=ada, version=1, answers=complete_answers(), entered_by=nina)
    IntakeSubmissionFactory(
        patient=ada, version=2, answers=complete_answers(alcohol="none"), entered_by=nina
    )
    # A baseline PHQ-9, which approval needs (patients.services.screening.MUST_BE_RECORDED);
    # the measurement below screens with it.
    QuestionnaireResponseFactory(
        patient=ada, answers=dict.fromkeys(definition_for("phq9").item_keys, 0)
    )
    measurement_record(actor=nina, patient=ada, systolic=150, diastolic=95, heart_rate=76, spo2=98)
    document = publish_consent(alice)
    signature = consent_sign(
        patient=ada,
        document=document,
        signed_name="Ada Lovelace",
        sections_acknowledged=[section["heading"] for section in CONSENT_SECTIONS],
        method=ConsentSignature.Method.TABLET,
        ip_address="203.0.113.7",
        user_agent="Clinic tablet",
        witnessed_by=nina,
    )
    draft = consent_document_create_draft(
        actor=alice, title="Consent to treatment", introduction="", sections=CONSENT_SECTIONS
    )
    return Scene(
        ada=ada,
        bea=bea,
        screening=ada.screenings.order_by("-created_at", "-id").first(),
        signature=signature,
        document=document,
        draft=draft,
    )


@pytest.fixture
def signed_in_client(request: pytest.FixtureRequest, client, db):
    """A test client signed in as the named persona (or not at all, for "anonymous")."""

    def sign_in(persona: str):
        if persona != "anonymous":
            user = request.getfixturevalue(persona)
            client.force_login(user, backend="clinic.auth.EmailBackend")
        return client

    return sign_in


def row_counts() -> dict[str, int]:
    return {model.__name__: model.objects.count() for model in RECORDS}


def send(client, page: Page, scene: Scene):
    path = scene.fill(page.path)
    if page.method == "GET":
        return client.get(path)
    return client.post(path, {key: scene.fill(value) for key, value in page.data.items()})


def views_of(patient: Patient) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(
            action=Action.VIEW, object_type="patients.patient", object_id=str(patient.public_id)
        ).select_related("actor")
    )


# --- Every persona against every page ----------------------------------------------------


@pytest.mark.parametrize("page", PAGES, ids=[page.name for page in PAGES])
@pytest.mark.parametrize("persona", PERSONAS)
def test_each_persona_gets_exactly_what_their_role_allows(signed_in_client, scene, persona, page):
    client = signed_in_client(persona)
    before = row_counts()

    response = send(client, page, scene)

    if persona in page.allowed:
        assert response.status_code == page.status, response.content[:500]
        if page.method == "GET":
            assert row_counts() == before, "reading a page must not write records"
        return
    assert row_counts() == before, "a refused request must change nothing"
    if persona in SIGNED_IN:
        assert response.status_code == 403
    elif page.is_api:
        assert response.status_code == 401
    else:
        assert response.status_code == 302
        assert response["Location"] == f"/staff/login/?next={quote(scene.fill(page.path))}"


PATIENT_READS = [page for page in PAGES if page.about_patient and page.method == "GET"]
PATIENT_WRITES = [page for page in PAGES if page.about_patient and page.method == "POST"]


@pytest.mark.parametrize("page", PATIENT_READS, ids=lambda page: page.name)
@pytest.mark.parametrize("persona", PERSONAS)
def test_each_look_at_a_patients_record_is_in_the_audit_log(
    signed_in_client, scene, persona, page, request
):
    trail_before = patient_audit_trail(scene.ada).count()

    send(signed_in_client(persona), page, scene)

    events = views_of(scene.ada)
    if persona not in page.allowed:
        assert events == []
        assert patient_audit_trail(scene.ada).count() == trail_before
        return
    assert len(events) == 1
    assert events[0].actor == request.getfixturevalue(persona)
    assert "Lovelace" not in events[0].summary + events[0].object_label
    assert views_of(scene.bea) == []


@pytest.mark.parametrize("page", PATIENT_WRITES, ids=lambda page: page.name)
@pytest.mark.parametrize("persona", PERSONAS)
def test_each_change_to_a_patients_record_is_in_the_audit_log(
    signed_in_client, scene, persona, page, request
):
    trail_before = set(patient_audit_trail(scene.ada).values_list("id", flat=True))

    send(signed_in_client(persona), page, scene)

    new = patient_audit_trail(scene.ada).exclude(id__in=trail_before)
    if persona not in page.allowed:
        assert not new.exists()
        return
    assert new.exclude(action=Action.VIEW).exists()
    assert {event.actor for event in new} == {request.getfixturevalue(persona)}
    assert not patient_audit_trail(scene.bea).exists()


@pytest.mark.parametrize("persona", sorted(SEES_PATIENTS))
def test_every_view_of_a_chart_is_in_the_audit_log(signed_in_client, scene, persona, request):
    client = signed_in_client(persona)

    for _ in range(3):
        assert client.get(f"/staff/patients/{scene.ada.public_id}/").status_code == 200

    events = views_of(scene.ada)
    assert len(events) == 3
    assert {event.actor for event in events} == {request.getfixturevalue(persona)}


# --- What the chart shows ------------------------------------------------------------------

CLINICAL_TEXT = [
    BP_REASON,
    "150/95 mmHg",
    "Needs physician review",
    "Screening result",
    "Intake versions",
    "Decision history",
    "Measurements",
    "Audit trail",
]
CLINICAL_SECTIONS = ["alerts", "intakes", "screening", "findings", "decisions", "measurements"]


@pytest.mark.parametrize("persona", ["fran", "alice"])
def test_the_chart_for_front_desk_and_admins_has_no_clinical_sections(
    signed_in_client, scene, persona
):
    response = signed_in_client(persona).get(f"/staff/patients/{scene.ada.public_id}/")

    content = response.content.decode()
    assert "Ada Lovelace" in content
    assert f'data-testid="status">{scene.ada.get_status_display()}<' in content
    for text in CLINICAL_TEXT:
        assert text not in content, text
    for testid in CLINICAL_SECTIONS:
        assert f'data-testid="{testid}"' not in content, testid


@pytest.mark.parametrize("persona", sorted(CLINICIANS))
def test_the_chart_for_clinicians_shows_the_findings_and_measurements(
    signed_in_client, scene, persona
):
    response = signed_in_client(persona).get(f"/staff/patients/{scene.ada.public_id}/")

    content = response.content.decode()
    for text in CLINICAL_TEXT:
        assert text in content, text


@pytest.mark.parametrize("persona", ["fran", "alice"])
def test_the_api_gives_front_desk_and_admins_no_clinical_fields(signed_in_client, scene, persona):
    response = signed_in_client(persona).get(f"/api/v1/patients/{scene.ada.public_id}/")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == scene.ada.status
    assert body.get("clinical") is None
    assert not {"answers", "findings", "systolic", "weight_kg", "height_cm"} & set(body)


@pytest.mark.parametrize("persona", ["fran", "nina", "alice"])
def test_only_a_physician_can_decide_and_a_refusal_saves_nothing(signed_in_client, scene, persona):
    response = signed_in_client(persona).post(
        f"/staff/patients/{scene.ada.public_id}/decision/new/",
        {"screening": str(scene.screening.public_id), "decision": "approve", "reason": "Fine."},
    )

    assert response.status_code == 403
    assert not ScreeningDecision.objects.exists()
    scene.ada.refresh_from_db()
    assert scene.ada.status != PatientStatus.APPROVED


# --- Patient links -------------------------------------------------------------------------


def intake_link(patient: Patient) -> tuple[PatientLink, str]:
    return link_create(patient=patient, purpose=PatientLink.Purpose.INTAKE, created_by=None)


def consent_link(patient: Patient) -> tuple[PatientLink, str]:
    return link_create(
        patient=patient,
        purpose=PatientLink.Purpose.CONSENT,
        created_by=None,
        consent_document=ConsentDocument.objects.filter(published_at__isnull=False).first(),
    )


def tampered(token: str) -> str:
    last = token[-1]
    return token[:-1] + ("A" if last != "A" else "B")


def expire(link: PatientLink) -> None:
    link.expires_at = timezone.now() - timedelta(minutes=1)
    link.save(update_fields=["expires_at"])


def use_up(link: PatientLink) -> None:
    link.used_at = timezone.now()
    link.save(update_fields=["used_at"])


def replace(link: PatientLink) -> None:
    link_create(
        patient=link.patient,
        purpose=PatientLink.Purpose(link.purpose),
        created_by=None,
        consent_document=link.consent_document,
    )


LINK_CASES = {
    # name: (make the link, spoil it, turn the token into the one sent, page, status, says)
    "an intake link on the intake page": (intake_link, None, None, "intake", 200, "Hello Ada."),
    "a consent link on the consent page": (
        consent_link,
        None,
        None,
        "consent",
        200,
        "Consent to treatment",
    ),
    "a consent link on the intake page": (consent_link, None, None, "intake", 404, "not valid"),
    "an intake link on the consent page": (intake_link, None, None, "consent", 404, "not valid"),
    "a tampered intake link": (intake_link, None, tampered, "intake", 404, "not valid"),
    "a tampered consent link": (consent_link, None, tampered, "consent", 404, "not valid"),
    "an expired intake link": (intake_link, expire, None, "intake", 410, "expired"),
    "an expired consent link": (consent_link, expire, None, "consent", 410, "expired"),
    "a used intake link": (intake_link, use_up, None, "intake", 410, "already been used"),
    "a used consent link": (consent_link, use_up, None, "consent", 410, "already been used"),
    "a replaced intake link": (intake_link, replace, None, "intake", 410, "replaced"),
    "a replaced consent link": (consent_link, replace, None, "consent", 410, "replaced"),
}


@pytest.mark.parametrize("case", list(LINK_CASES))
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_patient_link_works_only_where_and_while_it_should(client, scene, case, method):
    make, spoil, alter, page, status, says = LINK_CASES[case]
    link, token = make(scene.ada)
    if spoil is not None:
        spoil(link)
    if alter is not None:
        token = alter(token)
    path = f"/p/{page}/{token}/"
    before = row_counts()
    drafts_before = list(PatientLink.objects.order_by("id").values_list("draft", flat=True))

    if method == "GET":
        response = client.get(path)
    else:
        response = client.post(path, {"hypertension": "yes", "action": "next"})

    if method == "GET" or status != 200:
        assert response.status_code == status
        assert says in response.content.decode()
        assert "Lovelace" not in response.content.decode()
    if status != 200:
        assert row_counts() == before
        after = list(PatientLink.objects.order_by("id").values_list("draft", flat=True))
        assert after == drafts_before


def test_a_patients_intake_link_shows_and_saves_only_their_own_intake(client, scene):
    ada_link, ada_token = intake_link(scene.ada)
    bea_link, _bea_token = intake_link(scene.bea)

    page = client.get(f"/p/intake/{ada_token}/")
    saved = client.post(
        f"/p/intake/{ada_token}/?step=medical", {"hypertension": "yes", "action": "next"}
    )

    assert "Hello Ada." in page.content.decode()
    assert "Bea" not in page.content.decode()
    assert saved.status_code == 302
    ada_link.refresh_from_db()
    bea_link.refresh_from_db()
    assert ada_link.draft["answers"]["hypertension"] == "yes"
    assert bea_link.draft == {}
    scene.bea.refresh_from_db()
    assert scene.bea.status == PatientStatus.CONSULTATION_REQUESTED


def test_submitting_through_a_link_files_the_intake_under_its_own_patient_only(client, scene):
    ada_link, ada_token = intake_link(scene.ada)
    steps = ["medical", "psychiatric", "substances", "medications", "allergies", "pregnancy"]
    for step in [*steps, "goals"]:
        response = client.post(
            f"/p/intake/{ada_token}/?step={step}",
            form_data(complete_answers()) | {"action": "next"},
        )
        assert response.status_code == 302
    response = client.post(f"/p/intake/{ada_token}/?step=review")

    assert response.status_code == 302
    assert response["Location"] == "/p/intake/done/"
    assert scene.ada.intakes.filter(via_link=ada_link).count() == 1
    assert not scene.bea.intakes.exists()
    again = client.get(f"/p/intake/{ada_token}/")
    assert again.status_code == 410
    assert "already been used" in again.content.decode()


def test_the_intake_service_refuses_one_patients_link_for_another(scene):
    ada_link, _token = intake_link(scene.ada)

    with pytest.raises(PermissionDenied):
        intake_submit(patient=scene.bea, answers=complete_answers(), via_link=ada_link)

    assert not scene.bea.intakes.exists()
    ada_link.refresh_from_db()
    assert ada_link.used_at is None


def test_the_consent_service_refuses_one_patients_link_for_another(scene):
    ada_link, _token = consent_link(scene.ada)

    with pytest.raises(LinkError) as refused:
        consent_sign(
            patient=scene.bea,
            document=scene.document,
            signed_name="Bea Bishop",
            sections_acknowledged=[section["heading"] for section in CONSENT_SECTIONS],
            method=ConsentSignature.Method.LINK,
            ip_address="203.0.113.9",
            user_agent="Phone",
            via_link=ada_link,
        )

    assert refused.value.status == 404
    assert not ConsentSignature.objects.filter(patient=scene.bea).exists()
    ada_link.refresh_from_db()
    assert ada_link.used_at is None


def test_a_consent_link_signs_for_its_own_patient_and_shows_it_to_that_browser_only(client, scene):
    _link, token = consent_link(scene.ada)
    ticked = {f"section_{index}": "on" for index in range(len(CONSENT_SECTIONS))}

    signed = client.post(
        f"/p/consent/{token}/",
        {"document": str(scene.document.public_id), "signed_name": "Ada Lovelace"} | ticked,
    )

    assert signed.status_code == 302
    assert ConsentSignature.objects.filter(patient=scene.ada, via_link__isnull=False).count() == 1
    assert not ConsentSignature.objects.filter(patient=scene.bea).exists()
    assert client.get("/p/consent/signed/").status_code == 200
    assert Client().get("/p/consent/signed/").status_code == 404


def test_a_patient_link_opens_nothing_on_the_staff_pages_or_the_api(client, scene):
    _link, token = intake_link(scene.ada)
    assert client.get(f"/p/intake/{token}/").status_code == 200

    chart = client.get(f"/staff/patients/{scene.ada.public_id}/")
    api = client.get(f"/api/v1/patients/{scene.ada.public_id}/")

    assert chart.status_code == 302
    assert chart["Location"].startswith("/staff/login/")
    assert api.status_code == 401
