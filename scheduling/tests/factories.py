"""factory_boy factories for scheduling records, for tests in any app.

Like ``patients.tests.factories`` they write rows directly, without services or audit
events: use them to set the scene, and call the services for what a test is about.

``clinic_location(...)`` builds a whole location in one call: opening hours, chairs and a
shift for each clinician given, all in the location's own time zone.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import time, timedelta

import factory
from django.utils import timezone

from clinic.models import Chair, Closure, Location, OpeningHours, User
from clinic.roles import Role
from patients.tests.factories import PatientFactory
from scheduling.models import Appointment, AppointmentType, StaffShift

EVERY_DAY = range(7)


class LocationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Location

    name = factory.Sequence(lambda n: f"Clinic {n}")
    address_line1 = factory.Sequence(lambda n: f"{n + 1} Main St")
    city = "Chicago"
    region = "IL"
    phone = "+13125550100"
    time_zone = "America/Chicago"


class OpeningHoursFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = OpeningHours

    location = factory.SubFactory(LocationFactory)
    weekday = 0
    opens_at = time(8)
    closes_at = time(18)


class ClosureFactory(factory.django.DjangoModelFactory):
    """A one-day closure a week from now, unless ``starts_on``/``ends_on`` (local dates) say."""

    class Meta:
        model = Closure

    location = factory.SubFactory(LocationFactory)
    starts_on = factory.LazyFunction(lambda: timezone.localdate() + timedelta(days=7))
    ends_on = factory.SelfAttribute("starts_on")
    reason = "Staff training"


class ChairFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Chair

    location = factory.SubFactory(LocationFactory)
    name = factory.Sequence(lambda n: f"Chair {n + 1}")


class StaffFactory(factory.django.DjangoModelFactory):
    """A member of staff; a nurse unless ``roles`` says otherwise. The personas in the root
    conftest.py are usually better; use this when a test needs many clinicians."""

    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"staff{n}@clinic.test")
    full_name = factory.Sequence(lambda n: f"Staff Member {n}")
    roles = factory.LazyFunction(lambda: [Role.NURSE])


class AppointmentTypeFactory(factory.django.DjangoModelFactory):
    """The seeded appointment type of a kind (migration 0002): ``AppointmentTypeFactory(
    kind="infusion")`` returns the existing row; other fields only apply to a new kind."""

    class Meta:
        model = AppointmentType
        django_get_or_create = ("kind",)

    kind = "consultation"
    name = factory.LazyAttribute(lambda t: t.kind.replace("_", " ").capitalize())
    duration_minutes = 45
    recovery_minutes = 0
    needs_chair = False
    clinician = AppointmentType.Clinician.PHYSICIAN


def appointment_type(kind: str) -> AppointmentType:
    """The seeded appointment type of ``kind`` (consultation, infusion, booster, follow_up)."""
    return AppointmentType.objects.get(kind=kind)


class StaffShiftFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffShift

    staff = factory.SubFactory(StaffFactory)
    location = factory.SubFactory(LocationFactory)
    weekday = 0
    starts_at = time(8)
    ends_at = time(18)


class AppointmentFactory(factory.django.DjangoModelFactory):
    """A booked appointment; give ``location`` and ``starts_at`` (aware). ``ends_at`` and
    ``blocks_until`` follow from the appointment type unless given."""

    class Meta:
        model = Appointment
        skip_postgeneration_save = True  # the session is its own row: nothing to save again

    patient = factory.SubFactory(PatientFactory)
    location = factory.SubFactory(LocationFactory)
    appointment_type = factory.LazyFunction(lambda: appointment_type("infusion"))
    chair = None
    clinician = None
    starts_at = factory.LazyFunction(
        lambda: (timezone.now() + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    )
    ends_at = factory.LazyAttribute(lambda a: a.starts_at + a.appointment_type.duration)
    blocks_until = factory.LazyAttribute(lambda a: a.starts_at + a.appointment_type.occupied)

    @factory.post_generation
    def infusion_session(self, create: bool, extracted: object, **kwargs: object) -> None:
        """An infusion written as checked in or later gets its session in the matching
        state: the database refuses, at commit, an infusion appointment whose status
        disagrees with its session (infusions migration 0007)."""
        from infusions.models import InfusionSession  # a layer above scheduling

        state = SESSION_STATE_FOR.get(self.status)
        if create and state and self.appointment_type.kind in ("infusion", "booster"):
            InfusionSession.objects.get_or_create(appointment=self, defaults={"state": state})


def write_status(appointments: Iterable[Appointment], status: str) -> None:
    """Write ``status`` straight to ``appointments``, with the matching session for
    infusions (as ``AppointmentFactory`` does), for tests about something else."""
    from infusions.models import InfusionSession

    ids = [appointment.pk for appointment in appointments]
    Appointment.objects.filter(pk__in=ids).update(status=status)
    state = SESSION_STATE_FOR.get(status)
    if state:
        for appointment in Appointment.objects.filter(
            pk__in=ids, appointment_type__kind__in=("infusion", "booster")
        ):
            InfusionSession.objects.update_or_create(
                appointment=appointment, defaults={"state": state}
            )


# The session state of an infusion appointment written straight to the database.
SESSION_STATE_FOR = {
    "checked_in": "checked_in",
    "infusing": "infusing",
    "recovering": "recovering",
    "discharged": "discharged",
}


def clinic_location(
    *,
    time_zone: str = "America/Chicago",
    opens_at: time = time(8),
    closes_at: time = time(18),
    weekdays: Iterable[int] = EVERY_DAY,
    chairs: int = 2,
    staff: Iterable[User] = (),
    shift_starts_at: time | None = None,
    shift_ends_at: time | None = None,
    **location_fields: object,
) -> Location:
    """A location open ``opens_at`` to ``closes_at`` (local) on ``weekdays`` (0 = Monday; every
    day by default), with ``chairs`` active chairs named "Chair 1", "Chair 2", … and a shift
    on each of those weekdays for every member of ``staff`` (by default the opening hours)."""
    location = LocationFactory(time_zone=time_zone, **location_fields)
    weekdays = list(weekdays)
    for weekday in weekdays:
        OpeningHoursFactory(
            location=location, weekday=weekday, opens_at=opens_at, closes_at=closes_at
        )
    for number in range(1, chairs + 1):
        ChairFactory(location=location, name=f"Chair {number}")
    for member in staff:
        for weekday in weekdays:
            StaffShiftFactory(
                staff=member,
                location=location,
                weekday=weekday,
                starts_at=shift_starts_at or opens_at,
                ends_at=shift_ends_at or closes_at,
            )
    return location
