"""No-show and late-cancel fees: a confirmed no-show, or a cancellation inside the location's
window, proposes the fee (once per appointment, the database refusing a second); undoing it
withdraws the proposal; the front desk charges it (to pay at the desk, or the card on file
through the fake Stripe) or waives it with a reason; clinicians see the balance only."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from billing.deposits import booking_policy_set
from billing.fees import HOW_CARD, HOW_DESK, fee_charge, fee_waive
from billing.models import CardOnFile, FeeProposal, FeeProposalStatus, Payment, PolicyAgreement
from billing.reports import daily_close
from billing.tests.factories import visit
from clinic.models import AuditEvent
from scheduling.booking.manage import manage_token
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services.status_changes import appointment_cancel, appointment_set_status
from scheduling.services.undo import appointment_undo
from scheduling.tests.factories import AppointmentFactory, appointment_type

pytestmark = pytest.mark.django_db

POLICY = "A missed visit costs 75.00 USD; a cancellation within 24 hours costs 40.00 USD."


@pytest.fixture
def missed(alice):
    """A consultation that started an hour ago at a location with a fee policy."""
    appointment = visit("consultation")
    booking_policy_set(
        actor=alice,
        location=appointment.location,
        requirement="nothing",
        deposit_amount="",
        wording=POLICY,
        no_show_fee="75.00",
        late_cancel_fee="40.00",
        late_cancel_hours="24",
    )
    return appointment


def no_show(appointment, actor):
    return appointment_set_status(actor=actor, appointment=appointment, status="no_show")


def later(location, hours: float, *, booked_hours_ago: float = 24 * 7):
    """A consultation ``hours`` from now, booked ``booked_hours_ago`` (a week: in good time)."""
    return AppointmentFactory(
        appointment_type=appointment_type("consultation"),
        location=location,
        starts_at=(timezone.now() + timedelta(hours=hours)).replace(second=0, microsecond=0),
        created_at=timezone.now() - timedelta(hours=booked_hours_ago),
    )


# --- Proposing ---------------------------------------------------------------------------


def test_a_confirmed_no_show_proposes_the_locations_fee(missed, fran):
    no_show(missed, fran)
    proposal = FeeProposal.objects.get()
    assert proposal.kind == "no_show" and proposal.amount == Decimal("75.00")
    assert proposal.status == FeeProposalStatus.OPEN and proposal.patient == missed.patient


def test_the_fee_the_patient_agreed_to_when_booking_is_the_one_proposed(missed, fran):
    PolicyAgreement.objects.create(
        appointment=missed,
        patient=missed.patient,
        wording="Older words",
        no_show_fee=Decimal("60.00"),
        late_cancel_fee=Decimal("30.00"),
        late_cancel_hours=48,
        method="test",
    )
    no_show(missed, fran)
    assert FeeProposal.objects.get().amount == Decimal("60.00")


def test_a_location_without_a_policy_proposes_nothing(fran):
    appointment = visit("consultation")
    no_show(appointment, fran)
    assert not FeeProposal.objects.exists()


def test_a_second_proposal_for_one_appointment_is_refused_by_the_database(missed, fran):
    no_show(missed, fran)
    with pytest.raises(IntegrityError), transaction.atomic():
        FeeProposal.objects.create(
            appointment=missed,
            patient=missed.patient,
            location=missed.location,
            kind="late_cancel",
            amount=Decimal("1.00"),
        )


def test_a_waiver_without_a_reason_is_refused_by_the_database(missed, fran):
    no_show(missed, fran)
    with pytest.raises(IntegrityError), transaction.atomic():
        FeeProposal.objects.filter(appointment=missed).update(status="waived", decided_by=fran)


def test_undoing_the_no_show_withdraws_the_fee_and_marking_it_again_opens_it(missed, fran):
    no_show(missed, fran)
    appointment_undo(actor=fran, appointment=missed, reason="pressed by mistake")
    assert FeeProposal.objects.get().status == FeeProposalStatus.WITHDRAWN
    no_show(missed, fran)
    assert FeeProposal.objects.get().status == FeeProposalStatus.OPEN


def test_a_cancellation_inside_the_window_proposes_the_late_cancel_fee(missed, fran):
    soon = later(missed.location, 5)
    appointment_cancel(actor=fran, appointment=soon, reason="patient called, unwell")
    proposal = FeeProposal.objects.get(appointment=soon)
    assert proposal.kind == "late_cancel" and proposal.amount == Decimal("40.00")


def test_a_cancellation_in_good_time_proposes_nothing(missed, fran):
    far = later(missed.location, 30)
    appointment_cancel(actor=fran, appointment=far, reason="patient called")
    assert not FeeProposal.objects.filter(appointment=far).exists()


def test_an_appointment_booked_inside_the_window_is_cancelled_without_a_fee(missed, fran):
    # Booked online 10 minutes ago for 5 hours from now: never a chance to cancel in time.
    soon = later(missed.location, 5, booked_hours_ago=1 / 6)
    appointment_cancel(actor=None, appointment=soon, reason="cancelled by the patient online")
    assert not FeeProposal.objects.filter(appointment=soon).exists()


def test_the_clinic_cancelling_inside_the_window_proposes_no_fee(missed, fran):
    soon = later(missed.location, 5)
    appointment_cancel(actor=fran, appointment=soon, reason="clinic closed: flood", by_clinic=True)
    soon.refresh_from_db()
    assert soon.cancelled_by_clinic
    assert not FeeProposal.objects.filter(appointment=soon).exists()


def test_only_a_cancelled_appointment_may_say_the_clinic_cancelled_it(missed):
    soon = later(missed.location, 5)
    with pytest.raises(IntegrityError), transaction.atomic():
        type(soon).objects.filter(pk=soon.pk).update(cancelled_by_clinic=True)


def test_the_staff_cancel_page_offers_the_clinic_cancelled_choice(client, missed, fran):
    soon = later(missed.location, 5)
    client.force_login(fran)
    url = f"/staff/schedule/appointments/{soon.public_id}/cancel/"
    assert "The clinic cancelled" in client.get(url).content.decode()

    response = client.post(url, {"reason": "clinic closed", "who": "clinic"})

    assert response.status_code == 302
    soon.refresh_from_db()
    assert soon.status == AppointmentStatus.CANCELLED and soon.cancelled_by_clinic
    assert not FeeProposal.objects.filter(appointment=soon).exists()


# --- Deciding ----------------------------------------------------------------------------


def test_the_front_desk_waives_a_fee_with_a_reason_which_is_audited(missed, fran):
    no_show(missed, fran)
    proposal = FeeProposal.objects.get()
    with pytest.raises(ValidationError) as refused:
        fee_waive(actor=fran, proposal=proposal, reason="  ")
    assert "Say why the fee is waived" in refused.value.message_dict["reason"][0]
    assert FeeProposal.objects.get().status == FeeProposalStatus.OPEN

    fee_waive(actor=fran, proposal=proposal, reason="Car broke down, called ahead")
    waived = FeeProposal.objects.get()
    assert waived.status == "waived" and waived.decided_by == fran
    assert AuditEvent.objects.filter(summary__contains="waived the no-show fee").exists()
    with pytest.raises(ValidationError, match="waived already"):
        fee_waive(actor=fran, proposal=proposal, reason="again")


def test_a_nurse_may_not_decide_a_fee(missed, fran, nina):
    no_show(missed, fran)
    with pytest.raises(PermissionDenied):
        fee_waive(actor=nina, proposal=FeeProposal.objects.get(), reason="kind")


def test_charging_a_fee_to_pay_at_the_desk_issues_an_invoice(missed, fran):
    no_show(missed, fran)
    invoice, payment = fee_charge(actor=fran, proposal=FeeProposal.objects.get(), how=HOW_DESK)
    assert payment is None and invoice.status == "issued" and invoice.number
    assert invoice.lines.get().amount == Decimal("75.00")
    assert invoice.lines.get().description.startswith("No-show fee")
    assert FeeProposal.objects.get().invoice == invoice


def test_a_charged_fee_counts_as_a_fee_in_the_daily_close(missed, fran):
    no_show(missed, fran)
    fee_charge(actor=fran, proposal=FeeProposal.objects.get(), how=HOW_DESK)
    location = missed.location

    close = daily_close(location, timezone.now().astimezone(location.tz).date())

    assert (close.fees, close.fees_total) == (1, Decimal("75.00"))
    assert (close.invoices_issued, close.invoiced) == (1, Decimal("75.00"))


def test_charging_a_fee_to_a_patient_without_a_card_says_so_and_changes_nothing(
    missed, fran, fake_stripe
):
    no_show(missed, fran)
    with pytest.raises(ValidationError, match="no card on file"):
        fee_charge(actor=fran, proposal=FeeProposal.objects.get(), how=HOW_CARD)
    assert FeeProposal.objects.get().status == FeeProposalStatus.OPEN


def test_charging_a_fee_to_the_card_on_file_goes_through_stripe(missed, fran, fake_stripe):
    from billing.tests.test_webhooks import saved_card

    saved_card(fake_stripe, fran, missed.patient)
    assert CardOnFile.objects.filter(patient=missed.patient).exists()
    no_show(missed, fran)
    invoice, payment = fee_charge(actor=fran, proposal=FeeProposal.objects.get(), how=HOW_CARD)
    assert payment.amount == Decimal("75.00") and payment.method == "card"
    assert len(fake_stripe.charges) == 1 and Payment.objects.get().invoice == invoice


# --- Pages -------------------------------------------------------------------------------


def test_the_fees_page_lists_the_open_fees_in_a_constant_number_of_queries(client, fran):
    def open_fee():
        appointment = visit("consultation")
        FeeProposal.objects.create(
            appointment=appointment,
            patient=appointment.patient,
            location=appointment.location,
            kind="no_show",
            amount=Decimal("75.00"),
        )

    open_fee()
    client.force_login(fran)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get("/staff/billing/fees/")  # the session and the user, read once and kept
    with CaptureQueriesContext(connection) as few:
        assert client.get("/staff/billing/fees/").status_code == 200
    for _ in range(4):
        open_fee()
    with CaptureQueriesContext(connection) as many:
        page = client.get("/staff/billing/fees/")
    assert len(many) == len(few)
    assert page.content.decode().count("Charge…") == 5


def test_the_fees_page_is_for_the_front_desk_and_clinic_admins(client, fran, alice, nina, phil):
    for member, status in [(fran, 200), (alice, 200), (nina, 403), (phil, 403)]:
        client.force_login(member)
        assert client.get("/staff/billing/fees/").status_code == status, member


def test_an_empty_fees_page_says_where_fees_come_from(client, fran):
    client.force_login(fran)
    assert "No fees to decide" in client.get("/staff/billing/fees/").content.decode()


def test_the_front_desk_waives_a_fee_on_its_page_after_confirming(client, missed, fran):
    no_show(missed, fran)
    proposal = FeeProposal.objects.get()
    client.force_login(fran)
    url = f"/staff/billing/fees/{proposal.public_id}/waive/"
    missing = client.post(url, {"reason": ""})
    assert missing.status_code == 400 and "Say why the fee is waived" in missing.content.decode()
    confirm = client.post(url, {"reason": "First time"})
    assert "Waive the no-show fee of 75.00 USD" in confirm.content.decode()
    assert FeeProposal.objects.get().status == "open"
    done = client.post(url, {"reason": "First time", "confirmed": "yes"})
    assert done.status_code == 302 and FeeProposal.objects.get().status == "waived"


def test_a_nurse_cannot_open_a_fees_action_page(client, missed, fran, nina):
    no_show(missed, fran)
    client.force_login(nina)
    proposal = FeeProposal.objects.get()
    assert client.get(f"/staff/billing/fees/{proposal.public_id}/charge/").status_code == 403


def test_the_staff_home_shows_the_front_desk_the_fees_to_decide(client, missed, fran, nina):
    no_show(missed, fran)
    client.force_login(fran)
    home = client.get("/staff/").content.decode()
    assert "Fees to decide" in home and "no-show fee of 75.00 USD" in home
    client.force_login(nina)
    assert "Fees to decide" not in client.get("/staff/").content.decode()


def test_a_clinician_sees_the_balance_on_the_chart_not_the_fees(client, missed, fran, nina):
    no_show(missed, fran)
    fee_charge(actor=fran, proposal=FeeProposal.objects.get(), how=HOW_DESK)
    client.force_login(nina)
    chart = client.get(f"/staff/patients/{missed.patient.public_id}/").content.decode()
    assert "75.00" in chart
    assert client.get(f"/staff/billing/patients/{missed.patient.public_id}/").status_code == 403


def test_the_no_show_status_stays_even_when_no_policy_exists(fran):
    appointment = visit("consultation")
    no_show(appointment, fran)
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.NO_SHOW


def test_the_front_desk_charges_a_fee_to_pay_at_the_desk_from_its_page(client, missed, fran):
    no_show(missed, fran)
    proposal = FeeProposal.objects.get()
    client.force_login(fran)
    url = f"/staff/billing/fees/{proposal.public_id}/charge/"
    page = client.get(url).content.decode()
    assert "Charge the card on file now" not in page  # no card: the desk only
    confirm = client.post(url, {"how": HOW_DESK})
    assert "Charge the no-show fee of 75.00 USD to pay at the desk" in confirm.content.decode()
    done = client.post(url, {"how": HOW_DESK, "confirmed": "yes"})
    assert done.status_code == 302
    assert FeeProposal.objects.get().invoice.status == "issued"
    again = client.post(url, {"how": HOW_DESK, "confirmed": "yes"})
    assert again.status_code == 400 and "charged already" in again.content.decode()


def test_a_late_cancel_by_the_patient_online_is_proposed_too(missed):
    soon = later(missed.location, 3)
    appointment_cancel(actor=None, appointment=soon, reason="cancelled by the patient online")
    assert FeeProposal.objects.get(appointment=soon).kind == "late_cancel"


def test_the_appointment_page_shows_the_front_desk_the_fee_and_not_the_nurse(
    client, missed, fran, nina
):
    no_show(missed, fran)
    page = f"/staff/schedule/appointments/{missed.public_id}/"
    client.force_login(fran)
    assert "No-show fee of 75.00 USD: open." in client.get(page).content.decode()
    client.force_login(nina)
    assert "No-show fee" not in client.get(page).content.decode()


# --- Cancelling online -------------------------------------------------------------------


def booked_online(location, hours: float, *, booked_hours_ago: float):
    appointment = later(location, hours, booked_hours_ago=booked_hours_ago)
    appointment.source = Appointment.Source.ONLINE
    appointment.save(update_fields=["source"])
    return appointment


def test_the_online_cancel_page_says_the_fee_and_its_amount_before_the_patient_confirms(
    client, missed, alice
):
    booking_policy_set(
        actor=alice,
        location=missed.location,
        requirement="nothing",
        deposit_amount="",
        wording=POLICY,
        no_show_fee="75.00",
        late_cancel_fee="40.00",
        late_cancel_hours="48",
    )
    appointment = booked_online(missed.location, 30, booked_hours_ago=24 * 7)
    url = f"/book/manage/{manage_token(appointment)}/cancel/"

    page = client.get(url).content.decode()

    assert 'data-testid="cancel-fee-notice"' in page
    assert "late-cancellation fee of 40.00" in page
    client.post(url, {"note": ""})
    assert FeeProposal.objects.get(appointment=appointment).amount == Decimal("40.00")


def test_a_patient_who_booked_inside_the_window_cancels_online_without_fee_or_warning(
    client, missed
):
    # Booked online ten minutes ago for five hours from now; the confirmation said they could
    # cancel online within the hour.
    appointment = booked_online(missed.location, 5, booked_hours_ago=1 / 6)
    url = f"/book/manage/{manage_token(appointment)}/cancel/"

    page = client.get(url).content.decode()
    response = client.post(url, {"note": "changed my mind"})

    assert response.status_code == 302
    assert "cancel-fee-notice" not in page
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
    assert not FeeProposal.objects.filter(appointment=appointment).exists()


@pytest.mark.parametrize("action", ["waive", "charge"])
def test_the_charge_and_waive_pages_say_whose_fee_for_which_visit_and_how_much(
    client, missed, fran, action
):
    no_show(missed, fran)
    proposal = FeeProposal.objects.get()
    client.force_login(fran)

    page = client.get(f"/staff/billing/fees/{proposal.public_id}/{action}/").content.decode()

    assert 'data-testid="fee-subject"' in page
    subject = page.split('data-testid="fee-subject"', 1)[1].split("</div>", 1)[0]
    assert "No-show fee" in subject and "75.00" in subject
    assert missed.patient.display_name in subject
    assert "Consultation" in subject and missed.location.name in subject


def test_the_home_lists_the_oldest_five_fees_and_counts_the_others(client, missed, fran):
    no_show(missed, fran)
    first = FeeProposal.objects.get()
    patient = missed.patient
    patient.preferred_name = "Jo <J>"
    patient.save(update_fields=["preferred_name"])
    for hours in range(1, 6):  # five more, proposed later
        FeeProposal.objects.create(
            appointment=later(missed.location, -hours - 2),
            patient=first.patient,
            location=first.location,
            kind=first.kind,
            amount=Decimal("40.00"),
            proposed_at=first.proposed_at + timedelta(minutes=hours),
        )
    client.force_login(fran)

    panel = client.get("/staff/").content.decode().split('data-testid="home-fees"')[1]

    assert panel.count("<li>") == 5
    assert f"Jo &lt;J&gt; {patient.legal_last_name}: no-show fee of 75.00 USD" in panel
    shown_day = timezone.localtime(missed.starts_at)  # the date filter's time zone
    assert f"({missed.location.name}, {shown_day:%b} {shown_day.day})" in panel
    assert "1 more." in panel
