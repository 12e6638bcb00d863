"""``manage.py seed_demo``: a small demo clinic, safe to run on every start.

Creates two locations with opening hours, a closure on the next public holiday and
a few chairs, and (only while ``DEBUG`` is on) one sign-in per staff role. Every row
is looked up by its natural key first, so running it again changes nothing; a demo
account whose password or roles were changed is put back, so the logins printed by
``make run`` always work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time, timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from billing.demo import seed_demo_booking_policy, seed_demo_packages, seed_demo_prices
from clinic import second_factor
from clinic.audit import audit_record
from clinic.models import AuditEvent, Chair, Location, User
from clinic.roles import Role
from clinic.services import (
    chair_create,
    closure_add,
    location_create,
    location_set_opening_hours,
)
from content.initial import seed_content
from infusions.demo import seed_demo_infusions
from patients.consent_defaults import seed_consent_document
from patients.demo import seed_demo_patients
from scheduling.demo import seed_demo_schedule

SEEDED = "created the demo account (seed_demo)"


@dataclass(frozen=True)
class DemoAccount:
    mailbox: str
    full_name: str
    roles: tuple[Role, ...]


DEMO_ACCOUNTS = [
    DemoAccount("frontdesk", "Demo Front Desk", (Role.FRONT_DESK,)),
    DemoAccount("nurse", "Demo Nurse", (Role.NURSE,)),
    DemoAccount("physician", "Demo Physician", (Role.PHYSICIAN,)),
    DemoAccount("admin", "Demo Clinic Admin", (Role.CLINIC_ADMIN,)),
    DemoAccount("editor", "Demo Content Editor", (Role.CONTENT_EDITOR,)),
    # A physician who is also a clinic admin, as a clinic's medical director often is: the
    # one demo login that may grant the physician and nurse roles (clinic.accounts).
    DemoAccount("director", "Demo Medical Director", (Role.PHYSICIAN, Role.CLINIC_ADMIN)),
]

WEEKDAYS = [0, 1, 2, 3, 4]  # Monday to Friday
SATURDAY = 5


@dataclass(frozen=True)
class DemoLocation:
    name: str
    address: dict[str, str]
    time_zone: str
    chairs: int
    saturday_morning: bool


DEMO_LOCATIONS = [
    DemoLocation(
        name="Riverside",
        address={
            "address_line1": "120 Riverside Drive",
            "address_line2": "Suite 400",
            "city": "New York",
            "region": "NY",
            "postal_code": "10024",
            "phone": "+1 212 555 0142",
            "email": "riverside@demo.chairside.test",
        },
        time_zone="America/New_York",
        chairs=4,
        saturday_morning=True,
    ),
    DemoLocation(
        name="Mesa",
        address={
            "address_line1": "655 Table Mesa Drive",
            "address_line2": "",
            "city": "Boulder",
            "region": "CO",
            "postal_code": "80305",
            "phone": "+1 303 555 0178",
            "email": "mesa@demo.chairside.test",
        },
        time_zone="America/Denver",
        chairs=3,
        saturday_morning=False,
    ),
]


def demo_email(mailbox: str) -> str:
    return f"{mailbox}@{settings.DEMO_EMAIL_DOMAIN}"


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))


def _last_weekday(year: int, month: int, weekday: int) -> date:
    next_month = date(year + month // 12, month % 12 + 1, 1)
    last = next_month - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def upcoming_holiday(today: date) -> tuple[date, str]:
    """The next US public holiday on or after ``today`` that a clinic would close for."""
    candidates = []
    for year in (today.year, today.year + 1):
        candidates += [
            (date(year, 1, 1), "New Year's Day"),
            (_last_weekday(year, 5, 0), "Memorial Day"),
            (date(year, 7, 4), "Independence Day"),
            (_nth_weekday(year, 9, 0, 1), "Labor Day"),
            (_nth_weekday(year, 11, 3, 4), "Thanksgiving"),
            (date(year, 12, 25), "Christmas Day"),
        ]
    return min((day, name) for day, name in candidates if day >= today)


class Command(BaseCommand):
    help = (
        "Create the demo clinic (locations, hours, a holiday closure, chairs, the first "
        "consent form) and, when DEBUG is on, one demo sign-in per staff role and a few "
        "fictional patients. Safe to run repeatedly."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        verbosity = options["verbosity"]
        with transaction.atomic():
            created = self.seed_clinic()
            # The clinic's first consent form, in our own words; never replaces an edited one.
            created += seed_consent_document() is not None
            # The public FAQ and articles (not demo data); never replaces an edited one.
            created += seed_content()
            if settings.DEBUG:
                created += self.seed_demo_accounts()
                # Fictional patients, only where demo logins may exist too.
                physician = User.objects.get(email=demo_email("physician"))
                created += seed_demo_patients(physician=physician)
                # Shifts for the demo clinicians, so there is something to book.
                created += seed_demo_schedule()
                # Ketamine stock per location, and an infusion to walk through.
                created += seed_demo_infusions()
                # A price for each kind of visit, so an ended visit drafts a real invoice.
                created += seed_demo_prices()
                # Riverside's online booking policy (a card on file, the no-show fees).
                created += seed_demo_booking_policy()
                # The induction series on offer, bought by the demo patient with an infusion.
                created += seed_demo_packages()
        if verbosity == 0:
            return
        chairs = Chair.objects.filter(location__name__in=[d.name for d in DEMO_LOCATIONS])
        self.stdout.write(
            f"Demo clinic ready: {len(DEMO_LOCATIONS)} locations, {chairs.count()} chairs "
            f"({created} records created, the rest already there)."
        )
        if settings.DEBUG:
            emails = ", ".join(demo_email(account.mailbox) for account in DEMO_ACCOUNTS)
            self.stdout.write(f"Demo logins (password from DEMO_PASSWORD): {emails}")
        else:
            self.stdout.write(
                self.style.WARNING(
                    "No demo logins were created: DEBUG is off, and demo accounts may only "
                    "exist and sign in on a development machine. Run with DEBUG=1 to get them."
                )
            )

    def seed_clinic(self) -> int:
        """Add what is missing through the same services the staff pages use."""
        created = 0
        holiday, holiday_name = upcoming_holiday(timezone.localdate())
        for demo in DEMO_LOCATIONS:
            location = Location.objects.filter(name__iexact=demo.name).first()
            if location is None:
                location = location_create(
                    actor=None, name=demo.name, time_zone=demo.time_zone, **demo.address
                )
                created += 1
            hours = {weekday: (time(8), time(18)) for weekday in WEEKDAYS}
            if demo.saturday_morning:
                hours[SATURDAY] = (time(9), time(13))
            # Only days without hours are filled in: an admin's changes stay.
            existing = set(location.opening_hours.values_list("weekday", flat=True))
            missing = {day: times for day, times in hours.items() if day not in existing}
            if missing:
                location_set_opening_hours(actor=None, location=location, hours=missing)
                created += len(missing)
            closed = location.closures.filter(starts_on__lte=holiday, ends_on__gte=holiday)
            if not closed.exists():
                closure_add(
                    actor=None,
                    location=location,
                    starts_on=holiday,
                    ends_on=holiday,
                    reason=holiday_name,
                )
                created += 1
            chair_names = set(location.chairs.values_list("name", flat=True))
            for number in range(1, demo.chairs + 1):
                if f"Chair {number}" not in chair_names:
                    chair_create(actor=None, location=location, name=f"Chair {number}")
                    created += 1
        return created

    def seed_demo_accounts(self) -> int:
        created = 0
        password = settings.DEMO_PASSWORD
        for account in DEMO_ACCOUNTS:
            email = demo_email(account.mailbox)
            user = User.objects.filter(email__iexact=email).first()
            if user is None:
                user = User.objects.create_user(
                    email, password, full_name=account.full_name, roles=list(account.roles)
                )
                audit_record(
                    actor=None, action=AuditEvent.Action.CREATE, target=user, summary=SEEDED
                )
                created += 1
                continue
            # Someone may have changed the demo account: put back what make run prints.
            changed = []
            if user.roles != list(account.roles):
                user.roles = list(account.roles)
                changed.append("roles")
            if not user.is_active:
                user.is_active = True
                changed.append("is_active")
            if not user.check_password(password):
                user.set_password(password)
                changed.append("password")
            # Demo accounts need no second factor (clinic.second_factor); one set up while
            # trying the demo would hold up the next person who signs in with the printed
            # password, so it goes.
            if second_factor.devices_delete(user=user):
                changed.append("second factor")
            if fields := [name for name in changed if name != "second factor"]:
                user.save(update_fields=fields)
            if changed:
                audit_record(
                    actor=None,
                    action=AuditEvent.Action.UPDATE,
                    target=user,
                    summary="demo account reset: " + ", ".join(changed),
                )
        return created
