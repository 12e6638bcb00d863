"""Who sees which appointments and waitlist entries: scheduling.selectors."""

from __future__ import annotations

import uuid

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from patients.tests.factories import PatientFactory
from scheduling.models import WaitlistEntry
from scheduling.selectors import (
    appointment_for,
    appointments_visible_to,
    waitlist_entry_for,
    waitlist_visible_to,
)
from scheduling.tests.factories import AppointmentFactory, appointment_type
from scheduling.tests.test_booking import riverside_for

SCHEDULE_VIEWERS = ["alice", "fran", "nina", "phil"]


@pytest.fixture
def riverside(nina, phil):
    return riverside_for(nina, phil, chairs=3)


@pytest.mark.parametrize("persona", SCHEDULE_VIEWERS)
def test_staff_who_view_the_schedule_see_every_appointment(request, riverside, persona):
    appointment = AppointmentFactory(location=riverside)
    user = request.getfixturevalue(persona)

    assert list(appointments_visible_to(user)) == [appointment]
    assert appointment_for(user, appointment.public_id) == appointment
    assert appointment_for(user, str(appointment.public_id)) == appointment


@pytest.mark.parametrize("persona", ["edie", "olga"])
def test_editors_and_former_staff_see_no_appointments(request, riverside, persona):
    appointment = AppointmentFactory(location=riverside)
    user = request.getfixturevalue(persona)

    assert not appointments_visible_to(user).exists()
    with pytest.raises(PermissionDenied):
        appointment_for(user, appointment.public_id)


def test_an_anonymous_visitor_sees_no_appointments(riverside):
    from django.contrib.auth.models import AnonymousUser

    AppointmentFactory(location=riverside)

    assert not appointments_visible_to(AnonymousUser()).exists()
    with pytest.raises(PermissionDenied):
        appointment_for(AnonymousUser(), uuid.uuid4())


@pytest.mark.parametrize("public_id", [uuid.uuid4(), "not-a-uuid", "", "1"])
def test_an_unknown_or_malformed_id_is_a_404(fran, riverside, public_id):
    AppointmentFactory(location=riverside)

    with pytest.raises(Http404):
        appointment_for(fran, public_id)


def test_listing_appointments_runs_one_query_however_many(
    fran, riverside, django_assert_num_queries
):
    for chair in riverside.chairs.all():
        AppointmentFactory(location=riverside, chair=chair, clinician=fran)
        AppointmentFactory(location=riverside, appointment_type=appointment_type("consultation"))

    with django_assert_num_queries(1):
        rows = [
            (
                a.patient.legal_last_name,
                a.location.name,
                a.appointment_type.name,
                a.chair,
                a.clinician,
            )
            for a in appointments_visible_to(fran)
        ]
    assert len(rows) == 6


def test_the_waitlist_is_seen_by_those_who_view_the_schedule(fran, edie, riverside):
    entry = WaitlistEntry.objects.create(
        patient=PatientFactory(),
        location=riverside,
        appointment_type=appointment_type("consultation"),
    )

    assert list(waitlist_visible_to(fran)) == [entry]
    assert waitlist_entry_for(fran, entry.public_id) == entry
    assert not waitlist_visible_to(edie).exists()
    with pytest.raises(PermissionDenied):
        waitlist_entry_for(edie, entry.public_id)
    with pytest.raises(Http404):
        waitlist_entry_for(fran, "nope")
