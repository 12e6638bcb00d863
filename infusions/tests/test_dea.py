"""DEA registrations: the number's format and check digit, the registrant, the expiry; a
location without a current registration cannot receive or give ketamine; the page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditEvent, User
from conftest import PASSWORD
from infusions.dea import (
    Registrant,
    dea_number_problem,
    dea_registration_record,
    normalized_dea_number,
    registration_problem,
)
from infusions.ledger import ledger_administer, ledger_count, lot_receive
from infusions.models import DeaRegistration, DoseAdministration, LedgerEntry
from infusions.orders import current_order, dose_administer
from infusions.tests.factories import SUPPLIER, dea_number, dea_registered
from infusions.tests.test_ledger import receive
from infusions.tests.test_orders import infusing, sign  # noqa: F401 (fixtures)
from patients.tests.factories import PatientFactory
from scheduling.tests.factories import LocationFactory
from tests.clock import travel_to

# (1+3+5) + 2*(2+4+6) = 33: the check digit is 3.
VALID = "BJ1234563"


@pytest.fixture
def lakeview(db):
    return LocationFactory(name="Lakeview", time_zone="America/Chicago")


def register(alice, location, phil, **fields) -> DeaRegistration:
    values = {
        "number": VALID,
        "registrant": phil,
        "expires_on": location.local_now().date() + timedelta(days=365),
    } | fields
    return dea_registration_record(actor=alice, location=location, **values)


def refusal(caught: pytest.ExceptionInfo, field: str) -> str:
    return " ".join(caught.value.message_dict[field])


# --- The number ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [
        "BJ1234563",  # a clinic
        "AB1234563",  # an older practitioner number
        "FS0000000",  # check sum 0
        "G91357917",  # 9: a business name starting with a digit; (1+5+9) + 2*(3+7+1) = 37
        "bj 123-4563",  # typed loosely: normalized first
    ],
)
def test_a_practitioners_number_with_the_right_check_digit_passes(number):
    assert (
        dea_number_problem(normalized_dea_number(number), registrant=Registrant.PRACTITIONER) == ""
    )


@pytest.mark.parametrize(
    ("number", "says"),
    [
        ("", "Enter the DEA registration number"),
        ("BJ123456", "two letters and seven digits"),
        ("BJ12345630", "two letters and seven digits"),
        ("1J1234563", "two letters and seven digits"),
        ("BJ12E4563", "two letters and seven digits"),
        ("BJ1234564", "fails the DEA check digit"),
        ("BJ2134563", "fails the DEA check digit"),  # two digits swapped
        ("MJ1234563", "starts with M, which is not a practitioner's or clinic's"),
        ("PJ1234563", "starts with P"),
        ("CJ1234563", "starts with C"),
    ],
)
def test_a_wrong_practitioners_number_says_what_is_wrong(number, says):
    assert says in dea_number_problem(number, registrant=Registrant.PRACTITIONER)


def test_a_suppliers_number_starts_with_p_or_r():
    assert dea_number_problem("PS1234563", registrant=Registrant.SUPPLIER) == ""
    assert dea_number_problem("RS1234563", registrant=Registrant.SUPPLIER) == ""
    assert "P or R" in dea_number_problem("BS1234563", registrant=Registrant.SUPPLIER)


# --- Recording a registration -------------------------------------------------------------


def test_a_clinic_admin_records_a_locations_registration(alice, phil, lakeview):
    registration = register(alice, lakeview, phil, number="bj1234563")

    assert (registration.number, registration.registrant, registration.recorded_by) == (
        VALID,
        phil,
        alice,
    )
    assert registration_problem(lakeview, lakeview.local_now().date()) == ""
    event = AuditEvent.objects.get(object_id=str(registration.public_id))
    assert event.action == AuditEvent.Action.CREATE


@pytest.mark.parametrize("persona", ["nina", "phil", "fran"])
def test_only_those_who_manage_locations_record_one(request, phil, lakeview, persona):
    with pytest.raises(PermissionDenied):
        register(request.getfixturevalue(persona), lakeview, phil)
    assert not DeaRegistration.objects.exists()


def test_the_registrant_must_be_an_active_physician(alice, nina, lakeview):
    with pytest.raises(ValidationError) as caught:
        register(alice, lakeview, nina)
    assert "Nina Nurse is not an active physician" in refusal(caught, "registrant")

    with pytest.raises(ValidationError) as caught:
        register(alice, lakeview, None)
    assert "Choose the registrant" in refusal(caught, "registrant")
    assert not DeaRegistration.objects.exists()


def test_a_wrong_number_or_a_past_expiry_changes_nothing(alice, phil, lakeview):
    with pytest.raises(ValidationError) as caught:
        register(
            alice,
            lakeview,
            phil,
            number="BJ1234567",
            expires_on=lakeview.local_now().date() - timedelta(days=1),
        )

    assert "fails the DEA check digit" in refusal(caught, "number")
    assert "record the renewed certificate" in refusal(caught, "expires_on")
    assert not DeaRegistration.objects.exists()
    assert not AuditEvent.objects.filter(object_type="infusions.dearegistration").exists()


def test_another_locations_number_is_refused(alice, phil, lakeview):
    register(alice, LocationFactory(name="Hillside"), phil)

    with pytest.raises(ValidationError) as caught:
        register(alice, lakeview, phil)

    assert "registration of Hillside" in refusal(caught, "number")


def test_registrations_are_append_only_and_the_database_checks_the_number(alice, phil, lakeview):
    registration = register(alice, lakeview, phil)

    for change in (
        lambda: DeaRegistration.objects.filter(pk=registration.pk).update(number="AB1234563"),
        lambda: DeaRegistration.objects.filter(pk=registration.pk).delete(),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            change()
    for number in ("BJ1234564", "MJ1234563", "BJ12345"):
        with pytest.raises(IntegrityError), transaction.atomic():
            DeaRegistration.objects.create(
                location=lakeview,
                number=number,
                registrant=phil,
                expires_on=registration.expires_on,
                recorded_by=alice,
            )
    assert list(DeaRegistration.objects.values_list("number", flat=True)) == [VALID]


def test_the_latest_registration_counts(alice, phil, lakeview):
    today = lakeview.local_now().date()
    register(alice, lakeview, phil, expires_on=today + timedelta(days=700))
    register(alice, lakeview, phil, number="AB1234563", expires_on=today + timedelta(days=10))

    travel_to(lakeview.local_now() + timedelta(days=20))

    assert "AB1234563 expired on" in registration_problem(lakeview, lakeview.local_now().date())


# --- The ledger refuses without a current registration ------------------------------------


def test_a_location_without_a_registration_cannot_receive_ketamine(nina, lakeview):
    with pytest.raises(ValidationError) as caught:
        lot_receive(
            actor=nina,
            location=lakeview,
            product_name="Ketamine HCl 50 mg/mL",
            concentration_mg_per_ml="50",
            container_volume_ml="10",
            containers_received=1,
            lot_number="KX-1",
            expiry_date=lakeview.local_now().date() + timedelta(days=365),
            supplier="Midwest Pharma Supply",
            invoice_number="INV-1",
            **SUPPLIER,
        )

    assert "Lakeview has no DEA registration on record" in refusal(caught, "location")
    assert not LedgerEntry.objects.exists()


def test_an_expired_registration_stops_doses_but_not_counts(alice, nina, phil, patient, lakeview):
    today = lakeview.local_now().date()
    register(alice, lakeview, phil, expires_on=today + timedelta(days=30))
    lot = receive(nina, lakeview)
    travel_to(lakeview.local_now() + timedelta(days=31))

    with pytest.raises(ValidationError) as caught:
        ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg="40")

    assert f"registration {VALID} expired on" in refusal(caught, "lot")
    assert "cannot receive or give ketamine" in refusal(caught, "lot")
    ledger_count(actor=nina, lot=lot, counted_mg="500")  # stock still counted
    assert lot.entries.count() == 2


def test_a_deactivated_registrant_stops_the_sessions_dose(nina, phil, infusing):  # noqa: F811
    location = infusing.appointment.location
    lot = receive(nina, location)
    User.objects.filter(email="rhea@clinic.test").update(is_active=False)

    with pytest.raises(ValidationError) as caught:
        dose_administer(
            actor=nina,
            order=current_order(infusing),
            lot=lot,
            drawn_mg="40",
            administered_mg="40",
            witness=None,
            witness_password=PASSWORD,
        )

    assert "is no longer an active physician" in refusal(caught, "lot")
    assert not DoseAdministration.objects.exists()
    assert lot.entries.count() == 1


@pytest.fixture
def patient(db):
    return PatientFactory()


# --- The page -----------------------------------------------------------------------------


URL = "/staff/ledger/registrations/"


def test_the_page_shows_each_locations_registration_and_problem(
    client, alice, phil, lakeview, django_assert_num_queries
):
    register(alice, lakeview, phil)
    LocationFactory(name="Hillside")
    client.force_login(alice)

    response = client.get(URL)

    page = response.content.decode()
    assert response.status_code == 200
    assert VALID in page and "Phil Physician" in page
    assert "Hillside has no DEA registration on record" in page
    assert 'id="id_number"' in page  # the admin may record one


def test_the_page_reads_a_constant_number_of_queries(
    client, alice, phil, lakeview, django_assert_num_queries
):
    dea_registered(lakeview, phil)
    client.force_login(alice)
    client.get(URL)  # the session is warm
    with CaptureQueriesContext(connection) as one_location:
        client.get(URL)
    for number in range(4):
        location = dea_registered(LocationFactory(name=f"More {number}"), phil)
        register(alice, location, phil, number=dea_number(f"9{number}0000", "AB"))  # a second

    with django_assert_num_queries(len(one_location.captured_queries)):
        response = client.get(URL)

    assert response.content.decode().count('data-testid="registration-card"') == 5


def test_a_nurse_reads_the_page_without_the_form(client, nina, alice, phil, lakeview):
    register(alice, lakeview, phil)
    client.force_login(nina)

    page = client.get(URL).content.decode()

    assert VALID in page
    assert 'id="id_number"' not in page
    assert client.post(URL, {}).status_code == 403


def test_front_desk_cannot_read_it(client, fran):
    client.force_login(fran)
    assert client.get(URL).status_code == 403


def test_a_bad_number_is_shown_next_to_the_field_and_nothing_is_saved(
    client, alice, phil, lakeview
):
    client.force_login(alice)

    response = client.post(
        URL,
        {
            "location": str(lakeview.public_id),
            "number": "BJ1234560",
            "registrant": str(phil.public_id),
            "expires_on": "2099-01-01",
            "confirm": "on",
        },
    )

    assert response.status_code == 400
    assert "fails the DEA check digit" in response.content.decode()
    assert not DeaRegistration.objects.exists()


def test_the_admin_records_one_from_the_page(client, alice, phil, lakeview):
    client.force_login(alice)

    response = client.post(
        URL,
        {
            "location": str(lakeview.public_id),
            "number": " bj1234563 ",
            "registrant": str(phil.public_id),
            "expires_on": (lakeview.local_now().date() + timedelta(days=900)).isoformat(),
            "confirm": "on",
        },
        follow=True,
    )

    assert "Recorded Lakeview&#x27;s DEA registration BJ1234563" in response.content.decode()
    assert DeaRegistration.objects.get().registrant == phil
