"""The Spravato (esketamine) pages: the session screen's REMS section, the printable Patient
Monitoring Form, the clinicians' tracker of forms due, and the locations' certifications."""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from infusions.discharge import discharge_sign
from infusions.models import EsketamineDose, RemsMonitoringForm, RemsPatientEnrolment
from infusions.models.sessions import SessionKind
from infusions.tests.factories import infusion_session
from infusions.tests.rems_factories import dosed, esketamine_ready
from infusions.tests.test_esketamine import CHECKLIST, at, monitored


def page(session) -> str:
    return f"/staff/sessions/{session.public_id}/"


def test_a_spravato_appointment_opens_as_an_esketamine_session(client, nina, phil):
    session = infusion_session(nina, phil, kind="spravato")
    client.force_login(nina)

    assert session.kind == SessionKind.ESKETAMINE
    html = client.get(page(session)).content.decode()
    assert "Make it an IV ketamine session" not in html
    assert 'data-testid="rems"' in html
    assert 'data-testid="rems-not-enrolled"' in html
    assert 'data-testid="dose-order-form"' not in html  # no IV order for esketamine


def test_an_infusion_appointment_is_not_switched_to_spravato_and_says_what_to_book(
    client, nina, phil
):
    session = infusion_session(nina, phil)
    client.force_login(nina)
    html = client.get(page(session)).content.decode()
    assert 'data-testid="rems-make-esketamine"' not in html
    assert 'data-testid="rems-book-spravato"' in html

    response = client.post(f"{page(session)}rems/kind/", {"kind": "esketamine"}, follow=True)

    assert "book a Spravato session appointment" in response.content.decode()
    session.refresh_from_db()
    assert session.kind == SessionKind.IV_KETAMINE


def test_the_dose_without_enrolment_is_refused_with_a_clear_message(client, nina, phil):
    session, lot = esketamine_ready(nina, phil, enrol=False)
    client.force_login(nina)
    response = client.post(
        f"{page(session)}rems/dose/",
        {"devices": "2", "lot_1": str(lot.public_id), "lot_2": str(lot.public_id)},
    )
    assert response.status_code == 400
    assert "not enrolled in the Spravato REMS" in response.content.decode()
    assert not EsketamineDose.objects.exists()


def test_a_nurse_records_the_enrolment_then_the_dose(client, nina, phil):
    session, lot = esketamine_ready(nina, phil, enrol=False)
    client.force_login(nina)
    response = client.post(
        f"{page(session)}rems/enrolment/",
        {"rems_patient_id": "PT-991", "enrolled_on": timezone.localdate().isoformat()},
    )
    assert response.status_code == 302
    assert RemsPatientEnrolment.objects.get().rems_patient_id == "PT-991"

    response = client.post(
        f"{page(session)}rems/dose/",
        {"devices": "3", "lot_1": str(lot.public_id), "lot_2": str(lot.public_id), "lot_3": ""},
    )
    assert response.status_code == 400
    assert "Choose the lot of device 3" in response.content.decode()

    response = client.post(
        f"{page(session)}rems/dose/",
        {"devices": "2", "lot_1": str(lot.public_id), "lot_2": str(lot.public_id)},
        follow=True,
    )
    html = response.content.decode()
    assert "Recorded: esketamine 56 mg (2 devices)" in html
    assert 'data-testid="rems-dose"' in html


def test_an_impossible_dose_is_refused_with_the_doses_allowed(client, nina, phil):
    session, _ = esketamine_ready(nina, phil)
    client.force_login(nina)
    response = client.post(f"{page(session)}rems/dose/", {"devices": "5"})
    assert response.status_code == 400
    assert "56 mg (2 devices) or 84 mg (3 devices)" in response.content.decode()


def test_the_session_page_prompts_for_the_blood_pressure_40_minutes_after_the_dose(
    client, nina, phil
):
    session, dose = dosed(nina, phil)
    client.force_login(nina)
    at(dose, 38)
    html = client.get(page(session)).content.decode()
    assert 'data-testid="rems-bp-due"' in html
    assert "at least 2 h" in html


def test_an_assessment_is_recorded_from_the_page(client, nina, phil):
    session, dose = dosed(nina, phil)
    client.force_login(nina)
    at(dose, 30)
    response = client.post(
        f"{page(session)}rems/assessments/",
        {"sedation": "present", "dissociation": "absent", "respiratory_depression": "absent"},
        follow=True,
    )
    assert "Keep watching the patient" in response.content.decode()
    response = client.post(f"{page(session)}rems/assessments/", {"sedation": "maybe"})
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode() or "Say whether" in (
        response.content.decode()
    )


def test_the_monitoring_form_prints_complete_and_is_marked_submitted(client, nina, phil):
    session, dose = monitored(nina, phil)
    at(dose, 120)
    discharge_sign(actor=nina, session=session, **CHECKLIST)
    form = RemsMonitoringForm.objects.get(session=session)
    client.force_login(nina)

    html = client.get(f"/staff/sessions/rems/forms/{form.public_id}/").content.decode()
    assert 'data-testid="rems-form-missing"' not in html
    assert "css/print/rems-form.css" in html
    assert 'data-testid="f-rems-id">REMS-PT-0042' in html
    assert 'data-testid="f-lots">SPR-2607, SPR-2607' in html
    assert "56 mg (2 devices of 28 mg)" in html
    assert 'data-testid="f-cert">REMS-HCS-7781' in html

    today = timezone.now().astimezone(session.appointment.location.tz).date()
    response = client.post(
        f"/staff/sessions/rems/forms/{form.public_id}/submitted/",
        {"submitted_on": today.isoformat()},
        follow=True,
    )
    assert 'data-testid="rems-form-submitted"' in response.content.decode()


def test_an_incomplete_form_offers_no_mark_submitted_and_a_post_is_refused(client, nina, phil):
    session, _ = dosed(nina, phil)
    form = RemsMonitoringForm.objects.get(session=session)
    client.force_login(nina)
    url = f"/staff/sessions/rems/forms/{form.public_id}/"

    html = client.get(url).content.decode()
    assert 'data-testid="rems-form-missing"' in html
    assert 'data-testid="rems-submit-form"' not in html
    assert 'data-testid="rems-submit-not-yet"' in html

    today = timezone.now().astimezone(session.appointment.location.tz).date()
    response = client.post(f"{url}submitted/", {"submitted_on": today.isoformat()})

    assert response.status_code == 400
    assert "The form is not complete" in response.content.decode()
    form.refresh_from_db()
    assert form.submitted_on is None


def test_front_desk_may_not_read_the_form_and_an_unknown_one_is_404(client, nina, phil, fran):
    session, _ = dosed(nina, phil)
    form = RemsMonitoringForm.objects.get(session=session)
    client.force_login(fran)
    assert client.get(f"/staff/sessions/rems/forms/{form.public_id}/").status_code == 403
    client.force_login(nina)
    assert client.get(f"/staff/sessions/rems/forms/{uuid.uuid4()}/").status_code == 404


def home_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/staff/")
    assert response.status_code == 200
    return len(queries)


def test_the_home_tracker_lists_forms_due_with_a_constant_query_count(client, nina, phil):
    session, _ = dosed(nina, phil)
    client.force_login(nina)
    html = client.get("/staff/").content.decode()
    assert html.count('data-testid="rem-form-due"') == 0
    assert html.count('data-testid="rems-form-due"') == 1
    one = home_queries(client)

    # Two more sessions at the same place later that day.
    for hour in (12, 15):
        dosed(nina, phil, location=session.appointment.location, hour=hour)
    client.force_login(nina)
    assert client.get("/staff/").content.decode().count('data-testid="rems-form-due"') == 3
    assert home_queries(client) == one


def test_an_overdue_form_is_highlighted_on_the_home_page(client, nina, phil):
    _, dose = dosed(nina, phil)
    at(dose, 60 * 24 * 8)
    client.force_login(nina)
    html = client.get("/staff/").content.decode()
    assert "list-group-item-danger" in html and "Overdue" in html


def test_a_physician_records_a_locations_certification(client, nina, phil):
    session = infusion_session(nina, phil, kind="spravato")
    location = session.appointment.location
    client.force_login(phil)
    response = client.post(
        "/staff/sessions/rems/certifications/",
        {"location": str(location.public_id), "certification_id": "", "certified_on": ""},
    )
    assert response.status_code == 400
    response = client.post(
        "/staff/sessions/rems/certifications/",
        {
            "location": str(location.public_id),
            "certification_id": "HCS-1",
            "certified_on": timezone.localdate().isoformat(),
        },
        follow=True,
    )
    assert 'data-testid="rems-certified">Certified: HCS-1' in response.content.decode()
    client.force_login(nina)
    assert client.post("/staff/sessions/rems/certifications/", {}).status_code == 403


def test_a_nurse_receives_spravato_devices_into_the_ledger(client, nina, phil):
    from infusions.models import Lot
    from infusions.tests.factories import SUPPLIER, dea_registered
    from scheduling.tests.test_booking import riverside_for

    location = dea_registered(riverside_for(nina, phil))
    client.force_login(nina)
    fields = {
        "location": str(location.public_id),
        "product_name": "Spravato (esketamine) nasal spray 28 mg device",
        "containers_received": "6",
        "lot_number": "SPR-77",
        "expiry_date": (timezone.localdate() + timedelta(days=300)).isoformat(),
        "supplier": "Acme Pharma",
        "invoice_number": "INV-9",
        **SUPPLIER,
    }
    response = client.post("/staff/sessions/rems/receive/", fields, follow=True)
    assert response.status_code == 200, response.content.decode()[:2000]
    lot = Lot.objects.get(lot_number="SPR-77")
    assert (lot.product, lot.devices_left, lot.balance_mg) == ("esketamine", 6, 168)
    assert "6 devices of 28 mg" in client.get("/staff/ledger/").content.decode()

    response = client.post("/staff/sessions/rems/receive/", fields | {"containers_received": ""})
    assert response.status_code == 400


# --- Words for a nasal spray, not an IV ---------------------------------------------------------


def test_a_spravato_session_page_speaks_of_the_dose_not_an_infusion(client, nina, phil):
    session, dose = dosed(nina, phil)
    at(dose, 5)
    client.force_login(nina)

    html = client.get(page(session)).content.decode()

    assert "<title>Spravato session" in html
    assert "Infusion session" not in html
    assert "Infusion ended" not in html and "infusion started" not in html
    assert "Dose given" in html
    assert "Stop early" not in html
    assert "Checks before the dose" in html


def test_the_flash_after_the_checks_of_a_spravato_session_names_no_dose_order(client, nina, phil):
    from infusions.models.sessions import InfusionSessionState
    from infusions.sessions import session_transition
    from infusions.tests.factories import complete_pre_assessment

    session = infusion_session(nina, phil, kind="spravato")
    session = session_transition(
        actor=nina, session=session, to_state=InfusionSessionState.CHECKED_IN
    )
    complete_pre_assessment(session, nina)
    client.force_login(nina)
    html = client.get(page(session)).content.decode()
    assert "Last ate" in html and "Last ate or drank" not in html
    assert "no food in the 120 minutes (2 hours)" in html

    response = client.post(
        f"{page(session)}move/", {"to_state": "pre_assessment_passed"}, follow=True
    )

    html = response.content.decode()
    assert "dose order" not in html
    assert "record the Spravato dose" in html
