"""A patient fills in the intake on a phone through their link; a physician then reads the
screening findings on the chart and approves treatment.

The patient answers every question by tapping the answers, as a person would, saving
each section; halfway they close the browser and open the link from the message again,
and carry on where they left off. Nothing here goes through the services but setting
the scene: a front-desk colleague makes the link, a nurse records the baseline vitals.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from patients.models import IntakeSubmission, Patient, PatientStatus, ScreeningDecision, SexAtBirth
from patients.questionnaires import definition_for
from patients.services.intake import intake_link_create
from patients.services.measurements import measurement_record
from patients.tests.factories import PatientFactory, QuestionnaireResponseFactory
from tests.browser.staff import sign_in

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}

# Each section as the patient sees it: its heading, the answer tapped for each question
# (by the question's wording), and what is typed into the text boxes (by their label).
SECTIONS: list[tuple[str, dict[str, str], dict[str, str]]] = [
    (
        "Your health",
        {
            "Have you been told you have high blood pressure?": "No",
            "Do you have heart disease?": "No",
            "Have you ever been told you have an aneurysm": "No",
            "Have you ever had bleeding in or around your brain?": "No",
            "Have you been told you have raised pressure inside your head": "No",
            "Do you have liver disease?": "No",
            "Have you ever had a seizure, or been told you have epilepsy?": "No",
        },
        {"Is there anything else about your health we should know?": "Asthma as a child."},
    ),
    (
        "Your mental health",
        {
            "Have you been diagnosed with depression?": "Yes",
            "Have you ever been diagnosed with bipolar disorder?": "No",
            "Right now, are you going through a time of unusually high mood": "No",
            "Have you ever had psychosis": "No",
            "Right now, are you hearing or seeing things": "No",
            "In the past two weeks, have you had thoughts": "No",
            "Have you had talking therapy": "Yes",
            "Have you had electroconvulsive therapy (ECT)?": "No",
            "Have you had transcranial magnetic stimulation (TMS)?": "No",
        },
        {"How many different antidepressant medicines have you tried?": "3"},
    ),
    (
        "Alcohol and drugs",
        {
            "Do you drink alcohol?": "In the past, but not now",
            "Do you use cannabis (marijuana)?": "No",
            "Do you use stimulants that were not prescribed for you": "No",
            "Do you use opioids that were not prescribed for you": "No",
            "Have you ever used ketamine other than as given or prescribed": "No",
            "Have you ever been told you have a problem with alcohol or drugs": "No",
        },
        {},
    ),
    (
        "Your medicines",
        {"Do you take any medicines at the moment?": "Yes"},
        {},
    ),
    (
        "Allergies",
        {"Have you ever had an allergic reaction to ketamine or esketamine": "No"},
        {"Do you have any other allergies?": "Penicillin: rash"},
    ),
    (
        "Pregnancy and breastfeeding",
        # Not sure: the screening must not take that as "not pregnant".
        {"Are you pregnant?": "I'm not sure", "Are you breastfeeding?": "No"},
        {},
    ),
    (
        "Your goals",
        {},
        {"What do you hope treatment will change for you?": "Get back to work."},
    ),
]
STEP_COUNT = len(SECTIONS) + 1  # and the review
# The medicines the patient adds on "Your medicines", each found through the search: what
# they type, the medicine they tap in the results, its strength and how often.
MEDICINES = [
    ("zol", "sertraline (Zoloft)", "100", "Once a day"),
    ("lamic", "lamotrigine (Lamictal)", "50", "Twice a day"),
]
LAMOTRIGINE_REASON = "Takes lamotrigine (lamotrigine (Lamictal)): it may reduce the effect"
HALFWAY = 3
MEDICINES_SECTION = SECTIONS[3]

BP_REASON = (
    "Blood pressure 150/95 mmHg is at or above 140/90: physician to decide whether to wait "
    "until it is lower."
)
PREGNANCY_REASON = "Pregnancy status is not recorded; ask before deciding."
APPROVAL_REASON = (
    "Pregnancy test negative at the consultation; blood pressure 132/84 on a second reading."
)
MISSING_NOTE = "Asked at the consultation: not pregnant (test negative); the rest as answered."


@pytest.fixture
def patient(fran, nina) -> Patient:
    """A woman who asked for a consultation, with raised blood pressure at baseline."""
    patient = PatientFactory(
        legal_first_name="Maya",
        legal_last_name="Okafor",
        date_of_birth=date(1988, 6, 14),
        sex_at_birth=SexAtBirth.FEMALE,
    )
    # Her baseline PHQ-9, which approval needs (patients.services.screening.MUST_BE_RECORDED).
    QuestionnaireResponseFactory(
        patient=patient, answers=dict.fromkeys(definition_for("phq9").item_keys, 0)
    )
    measurement_record(
        actor=nina, patient=patient, systolic=150, diastolic=95, heart_rate=76, spo2=98
    )
    return patient


@pytest.fixture
def intake_link(fran, patient) -> str:
    """The path of the intake link the front desk sends the patient."""
    _link, token = intake_link_create(actor=fran, patient=patient)
    return f"/p/intake/{token}/"


def sideways_scroll(page: Page) -> int:
    return page.evaluate(
        "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )


def expect_step(page: Page, number: int, heading: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.get_by_test_id("step-progress")).to_have_text(f"Step {number} of {STEP_COUNT}")
    overflow = sideways_scroll(page)
    assert overflow <= 0, f"“{heading}” scrolls sideways by {overflow}px on a 390px phone"


def answer_section(page: Page, choices: dict[str, str], texts: dict[str, str]) -> None:
    for question, answer in choices.items():
        radio = page.get_by_role("group", name=question).get_by_role(
            "radio", name=answer, exact=True
        )
        radio.tap()
        expect(radio).to_be_checked()
    for label, text in texts.items():
        box = page.get_by_label(label)
        box.tap()
        box.fill(text)


def add_medicines(page: Page) -> None:
    """Add each medicine through the search: the choices appear as the patient types."""
    adding = page.get_by_test_id("add-medicine")
    for typed, name, strength, how_often in MEDICINES:
        search = adding.get_by_label("Medicine name")
        search.tap()
        search.press_sequentially(typed, delay=50)
        choice = adding.get_by_test_id("medicine-results").get_by_role("radio", name=name)
        choice.tap()
        expect(choice).to_be_checked()
        adding.get_by_label("Strength (mg)").fill(strength)
        adding.get_by_label("How often").select_option(label=how_often)
        adding.get_by_role("button", name="Add this medicine").tap()
        expect(page.get_by_test_id("medicine-list")).to_contain_text(name)
        expect_step(page, SECTIONS.index(MEDICINES_SECTION) + 1, "Your medicines")
    assert sideways_scroll(page) <= 0


def save_and_continue(page: Page) -> None:
    page.get_by_role("button", name="Save and continue").tap()


def test_a_patient_completes_intake_on_a_phone_and_a_physician_approves(
    new_page: Callable[..., Page], patient: Patient, intake_link: str, phil
):
    # The patient opens the link from the message on their phone.
    phone = new_page(**PHONE)
    phone.goto(intake_link)
    expect(phone.get_by_text("Hello Maya.")).to_be_visible()
    for number, (heading, choices, texts) in enumerate(SECTIONS[:HALFWAY], start=1):
        expect_step(phone, number, heading)
        answer_section(phone, choices, texts)
        save_and_continue(phone)
    expect_step(phone, HALFWAY + 1, SECTIONS[HALFWAY][0])

    # Interrupted, they open the link again later, in a new browser: it resumes where they
    # stopped, and what they answered is still there.
    phone = new_page(**PHONE)
    phone.goto(intake_link)
    expect_step(phone, HALFWAY + 1, SECTIONS[HALFWAY][0])
    phone.get_by_role("button", name="Save and go back").tap()
    expect_step(phone, HALFWAY, "Alcohol and drugs")
    expect(
        phone.get_by_role("group", name="Do you drink alcohol?").get_by_role(
            "radio", name="In the past, but not now"
        )
    ).to_be_checked()
    save_and_continue(phone)

    for number, (heading, choices, texts) in enumerate(SECTIONS[HALFWAY:], start=HALFWAY + 1):
        expect_step(phone, number, heading)
        answer_section(phone, choices, texts)
        if heading == "Your medicines":
            add_medicines(phone)
        save_and_continue(phone)

    # The review shows every answer, with nothing left to answer; then they send them.
    expect(phone.get_by_role("heading", level=1)).to_have_text("Check your answers, Maya")
    expect(phone.get_by_test_id("step-progress")).to_have_text(f"Step {STEP_COUNT} of {STEP_COUNT}")
    assert sideways_scroll(phone) <= 0
    expect(phone.get_by_test_id("review-problems")).to_have_count(0)
    pregnancy = phone.get_by_role("region", name="Pregnancy and breastfeeding")
    expect(pregnancy).to_contain_text("I'm not sure")
    medicines = phone.get_by_role("region", name="Your medicines")
    expect(medicines).to_contain_text("sertraline (Zoloft)")
    expect(medicines).to_contain_text("50 mg, 1 each time, twice a day")
    phone.get_by_role("button", name="Send my answers").tap()
    expect(phone.get_by_role("heading", level=1)).to_have_text("Thank you")
    expect(phone.get_by_text("Your answers have reached the clinic.")).to_be_visible()
    assert sideways_scroll(phone) <= 0

    submission = IntakeSubmission.objects.get(patient=patient)
    assert submission.via_link is not None
    assert submission.answers["pregnant"] == "unsure"
    assert submission.answers["antidepressant_trials"] == 3
    assert submission.answers["treatment_goals"] == "Get back to work."
    assert [m.drug_key for m in submission.medications.all()] == ["sertraline", "lamotrigine"]

    # The link is used up: opening it again says so.
    response = phone.goto(intake_link)
    assert response is not None and response.status == 410
    expect(phone.get_by_test_id("link-problem")).to_contain_text("already been used")

    # The physician, at their desk, finds the patient and reads the screening findings.
    desk = new_page()
    sign_in(desk, phil.email)
    desk.get_by_test_id("staff-nav").get_by_role("link", name="Patients").click()
    desk.get_by_role("link", name="Okafor, Maya").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Maya Okafor")
    expect(desk.get_by_test_id("status")).to_have_text("Awaiting screening decision")
    screening = desk.get_by_test_id("screening")
    expect(screening.get_by_test_id("screening-outcome")).to_have_text("Needs physician review")
    findings = screening.get_by_test_id("findings")
    expect(findings.get_by_role("row").filter(has_text="bp.review")).to_contain_text(BP_REASON)
    expect(findings.get_by_role("row").filter(has_text="missing.pregnancy_status")).to_contain_text(
        PREGNANCY_REASON
    )
    expect(findings.get_by_role("row").filter(has_text="meds.lamotrigine")).to_contain_text(
        LAMOTRIGINE_REASON
    )
    expect(desk.get_by_test_id("medications")).to_contain_text("Antidepressant (SSRI)")
    expect(desk.get_by_test_id("intakes").get_by_role("row").nth(1)).to_contain_text("Version 1")
    expect(desk.get_by_test_id("intakes")).to_contain_text("The patient, through a link")

    # They decide on exactly that result. Approving in one click is refused while facts are
    # not recorded; they ask the patient, tick, and write what she said.
    desk.get_by_role("link", name="Record a decision").click()
    expect(desk.get_by_role("heading", level=1)).to_have_text("Screening decision")
    expect(desk.get_by_test_id("findings")).to_contain_text(PREGNANCY_REASON)
    form = desk.get_by_test_id("decision-form")
    expect(form.get_by_test_id("missing-facts")).to_contain_text("Pregnancy status is not recorded")
    form.get_by_label("Approve treatment").check()
    form.get_by_label("Reason").fill(APPROVAL_REASON)
    form.get_by_role("button", name="Record decision").click()
    form = desk.get_by_test_id("decision-form")
    expect(form).to_contain_text("not recorded, and a missing answer is never read as all clear")
    assert not ScreeningDecision.objects.filter(patient=patient).exists()
    form.get_by_label("I asked the patient about every fact not recorded").check()
    form.get_by_label("What the patient said about the facts not recorded").fill(MISSING_NOTE)
    form.get_by_role("button", name="Record decision").click()

    expect(desk).to_have_url(re.compile(rf"/staff/patients/{patient.public_id}/#decisions$"))
    expect(desk.get_by_test_id("status")).to_have_text("Approved")
    current = desk.get_by_test_id("decisions").get_by_role("row").filter(has_text="Current")
    expect(current).to_contain_text("Approved")
    expect(current).to_contain_text("Phil Physician")
    expect(current).to_contain_text(APPROVAL_REASON)
    expect(current).to_contain_text(MISSING_NOTE)  # what she said, kept with the decision

    patient.refresh_from_db()
    assert patient.status == PatientStatus.APPROVED
    decision = ScreeningDecision.objects.get(patient=patient)
    assert decision.decided_by == phil
    assert decision.screening == patient.screenings.order_by("-created_at", "-id").first()
    assert "missing.pregnancy_status" in decision.missing_facts_acknowledged
    assert decision.missing_facts_note == MISSING_NOTE
