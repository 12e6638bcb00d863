"""Fill a database with a clinic chain's two years: the data the benchmarks measure against.

At ``--scale 1`` (a chain of a dozen locations after two years): 12 locations, ~60 staff,
20,000 patients, ~200,000 appointments, ~25,000 infusion sessions with ~2,000,000 vital-sign
readings, ~60,000 scored questionnaires (PHQ-9, GAD-7, PCL-5, pain), ~200,000 outbox
messages, and treatment courses (induction, maintenance, completed, discontinued). Smaller
scales shrink the patients and everything that follows from them; the locations stay.

Usage (from the repository root)::

    .venv/bin/python benchmarks/seed.py --database chairside_bench --scale 1 --seed 1

The database is created and migrated; one that exists already is refused unless
``--replace`` (which drops and recreates it). It runs against the server of
``DATABASE_URL``, or the embedded PostgreSQL without it. When done, the database's comment
records the seed, the scale and when (``benchmarks.database.mark``), so ``run.py`` can
reuse it.

How: the clinic itself (locations, opening hours, chairs, the consent form, the FAQ) comes
from ``manage.py seed_demo`` and the project's services, staff through the model manager;
the big tables are written with PostgreSQL ``COPY`` from rows built here, all from one
``random.Random(--seed)``, so the same seed on the same day gives the same data. Times are
relative to now: the data always ends "today", with today's and this week's schedule
full at every location (about 40-60 appointments a day each) and a few weeks booked ahead.
Every row satisfies the database's constraints and triggers (they stay on), and the
states agree with the clock: what ended before now is discharged, a no-show or cancelled;
what is under way now is checked in, infusing or recovering; the rest is booked.
"""

from __future__ import annotations

import argparse
import bisect
import math
import os
import random
import sys
import time as clock
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

BASE_DIR = Path(__file__).resolve().parent.parent
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from benchmarks import database  # noqa: E402
from benchmarks.auth import (  # noqa: E402
    BENCH_EMAIL_DOMAIN,
    BENCH_PASSWORD,
    BENCH_STAFF,
    BENCH_TOTP_KEY,
    bench_email,
)

# --- Sizes at scale 1 ---------------------------------------------------------------------
PATIENTS = 20_000
APPOINTMENTS = 200_000
SESSIONS = 25_000
READINGS_PER_SESSION = 80  # on average: 2,000,000 at scale 1
QUESTIONNAIRES = 60_000
MESSAGES = 200_000
HISTORY_DAYS = 730
AHEAD_DAYS = 28  # booked ahead of today
BUSY_PATIENTS = 20  # patients with a weekly booster for two years (~100 sessions each)
DAY_BOARD = (40, 60)  # appointments a weekday at each location, this week and ahead

# --- The chain -----------------------------------------------------------------------------
# name, city, region, time zone, chairs, open on Saturday morning
CHAIN = [
    ("Riverside", "New York", "NY", "America/New_York", 7, True),
    ("Mesa", "Boulder", "CO", "America/Denver", 6, False),
    ("Lakeshore", "Chicago", "IL", "America/Chicago", 7, True),
    ("Harbor", "Seattle", "WA", "America/Los_Angeles", 6, False),
    ("Magnolia", "Houston", "TX", "America/Chicago", 7, True),
    ("Peachtree", "Atlanta", "GA", "America/New_York", 6, False),
    ("Bayview", "San Diego", "CA", "America/Los_Angeles", 7, True),
    ("Saguaro", "Phoenix", "AZ", "America/Phoenix", 6, False),
    ("Commonwealth", "Boston", "MA", "America/New_York", 6, True),
    ("Music Row", "Nashville", "TN", "America/Chicago", 6, False),
    ("Rose City", "Portland", "OR", "America/Los_Angeles", 6, False),
    ("Front Range", "Denver", "CO", "America/Denver", 7, True),
]
WEEKDAY_HOURS = (time(8), time(18))
SATURDAY_HOURS = (time(9), time(13))

FIRST_NAMES = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara "
    "Richard Susan Joseph Jessica Thomas Sarah Charles Karen Christopher Lisa Daniel Nancy "
    "Matthew Betty Anthony Sandra Mark Margaret Donald Ashley Steven Kimberly Andrew Emily "
    "Paul Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah "
    "Timothy Stephanie Ronald Dorothy Jason Rebecca Edward Sharon Jeffrey Laura Ryan Cynthia "
    "Jacob Amy Gary Kathleen Nicholas Angela Eric Shirley Jonathan Brenda Stephen Emma Larry "
    "Anna Justin Pamela Scott Nicole Brandon Samantha Benjamin Katherine Samuel Christine "
    "Gregory Debra Alexander Rachel Patrick Carolyn Frank Janet Raymond Maria Jack Olivia "
    "Dennis Heather Jerry Helen Tyler Catherine Aaron Diane Jose Julie Adam Victoria Nathan "
    "Joyce Henry Lauren Zachary Kelly Douglas Christina Peter Ruth Kyle Joan Noah Virginia "
    "Ethan Judith Jeremy Evelyn Christian Hannah Walter Andrea Keith Megan Austin Cheryl "
    "Roger Jacqueline Terry Madison Sean Teresa Gerald Abigail Carl Sophia Dylan Martha "
    "Harold Sara Jordan Gloria Jesse Janice Bryan Kathryn Lawrence Ann Arthur Isabella "
    "Gabriel Judy Bruce Charlotte Logan Julia Billy Grace Joe Amber Alan Alice Juan Jean "
    "Elijah Denise Willie Frances Albert Danielle Wayne Marilyn Randy Natalie Mason Beverly "
    "Vincent Diana Liam Brittany Roy Theresa Bobby Kayla Caleb Alexis Bradley Doris Russell "
    "Lori Lucas Tiffany Aisha Wei Priya Mateo Sofia Kenji Yuki Omar Fatima Chidi Amara"
).split()
COMMON_SURNAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez "
    "Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson "
    "White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott "
    "Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter "
    "Roberts Gomez Phillips Evans Turner Diaz Parker Cruz Edwards Collins Reyes Stewart "
    "Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper Peterson Bailey Reed "
    "Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James Bennett Gray "
    "Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster Jimenez "
    "Powell Jenkins Perry Russell Sullivan Bell Coleman Butler Henderson Barnes Gonzales "
    "Fisher Vasquez Simmons Romero Jordan Patterson Alexander Hamilton Graham Reynolds "
    "Griffin Wallace Moreno West Cole Hayes Bryant Herrera Gibson Ellis Tran Medina Aguilar "
    "Stevens Murray Ford Castro Marshall Owens Harrison Fernandez McDonald Woods Washington "
    "Kennedy Wells Vargas Henry Chen Freeman Webb Tucker Guzman Burns Crawford Olson Simpson "
    "Porter Hunter Gordon Mendez Silva Shaw Snyder Mason Dixon Munoz Hunt Hicks Holmes Palmer "
    "Wagner Black Robertson Boyd Rose Stone Salazar Fox Warren Mills Meyer Rice Schmidt "
    "Okonkwo Nakamura Kowalski Oyelaran Haddad Lindqvist Fitzgerald O'Brien Van Dyke"
).split()
SURNAME_STARTS = "Al Ash Bar Bel Bran Cal Car Dal Dun El Fair Gal Gar Hal Har Kel Lan Mar Mor Nor Pen Ral Ros Sal Stan Thorn Wal Whit Wil Wyn".split()  # noqa: E501
SURNAME_ENDS = "bury den field ford ham hurst ington ley low man more ridge son stead ton well wick worth".split()  # noqa: E501
STREETS = "Oak Maple Cedar Elm Pine Walnut Lake Hill Park River Spring Church Mill Main".split()
# Conditions and how often they are treated (weights).
CONDITIONS = [
    ("trd", 30),
    ("mdd", 20),
    ("bipolar_depression", 5),
    ("suicidal_ideation", 3),
    ("anxiety", 14),
    ("ocd", 3),
    ("ptsd", 10),
    ("sud", 3),
    ("eating_disorder", 1),
    ("neuropathic_pain", 4),
    ("fibromyalgia", 3),
    ("crps", 2),
    ("migraine", 2),
]
CANCEL_REASONS = [
    "Patient asked to move it",
    "Patient unwell",
    "Clinic closed at short notice",
    "Transport fell through",
    "Work commitment",
]
STOP_REASONS = [
    "Blood pressure stayed above the limit after the pause.",
    "Patient asked to stop: felt too dissociated.",
    "Nausea that did not settle with ondansetron.",
]
NOT_STARTED_REASONS = [
    "Blood pressure at hold level before the start.",
    "Patient had eaten within the fasting window.",
    "No escort for the ride home.",
]
DISCONTINUED_REASONS = [
    "No response after the induction series.",
    "Patient moved away.",
    "Side effects outweighed the benefit.",
]


def scaled(number: int, scale: float) -> int:
    return max(1, round(number * scale))


def uuid4(rng: random.Random) -> uuid.UUID:
    """A version-4 UUID from ``rng`` (what ``uuid.uuid4`` makes, but repeatable)."""
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def moment_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- Writing rows with COPY ----------------------------------------------------------------


class Table:
    """Rows for one model's table, written with COPY. Values are given by attribute name
    (``patient_id``); a field left out takes its static default, "" for blank text, None
    for a nullable field, and anything else must be given."""

    def __init__(self, model: Any) -> None:
        from django.contrib.postgres.fields import ArrayField
        from django.db import models

        self.model = model
        self.table = model._meta.db_table
        self.fields = list(model._meta.concrete_fields)
        self.columns = [f.column for f in self.fields]
        self.json = {f.attname for f in self.fields if isinstance(f, models.JSONField)}
        self.defaults: dict[str, Any] = {}
        self.required: set[str] = set()
        for f in self.fields:
            if f.has_default() and not callable(f.default):
                self.defaults[f.attname] = f.default
            elif f.has_default() and f.default in (list, dict):
                self.defaults[f.attname] = f.default  # called per row
            elif f.null:
                self.defaults[f.attname] = None
            elif f.blank and isinstance(f, models.CharField | models.TextField):
                self.defaults[f.attname] = ""
            elif isinstance(f, ArrayField) and f.blank:
                self.defaults[f.attname] = list
            else:
                self.required.add(f.attname)
        self.rows: list[tuple] = []
        self.next_id = 1

    def take_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def add(self, **values: Any) -> int:
        from psycopg.types.json import Jsonb

        if "id" not in values and "id" in self.required:
            values["id"] = self.take_id()
        missing = self.required - values.keys()
        if missing:
            raise ValueError(f"{self.table}: no value for {sorted(missing)}")
        row = []
        for f in self.fields:
            name = f.attname
            value = values[name] if name in values else self.defaults[name]
            if value is list or value is dict:
                value = value()
            if name in self.json:
                value = Jsonb(value)
            row.append(value)
        self.rows.append(tuple(row))
        return values.get("id", 0)


class Copier:
    def __init__(self, connection: Any) -> None:
        self.connection = connection  # a psycopg connection
        self.counts: dict[str, int] = defaultdict(int)

    def write(self, table: Table) -> None:
        self.write_rows(table.table, table.columns, table.rows)
        table.rows = []

    def write_rows(self, name: str, columns: list[str], rows: Iterable[tuple]) -> None:
        from psycopg import sql

        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(name), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        n = 0
        with self.connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
        self.counts[name] += n


# --- What the seeder keeps in memory --------------------------------------------------------


@dataclass
class Site:
    pk: int
    name: str
    tz: ZoneInfo
    chairs: list[int]
    hours: dict[int, tuple[time, time]]
    closed: set[date]
    physician: int = 0
    nurses: list[int] = field(default_factory=list)
    front_desk: int = 0
    # (local day) -> free (chair, start) pairs, filled in on first use
    free_chairs: dict[date, list[tuple[int, datetime]]] = field(default_factory=dict)

    def open_on(self, day: date) -> bool:
        return day.weekday() in self.hours and day not in self.closed

    def at(self, day: date, moment: time) -> datetime:
        return datetime.combine(day, moment, tzinfo=self.tz).astimezone(UTC)


@dataclass
class Person:
    pk: int
    public_id: uuid.UUID
    site: Site
    conditions: list[str]
    created_at: datetime
    mobile: str
    email: str
    weight: Decimal
    sex: str
    status: str = "consultation_requested"
    days: set[date] = field(default_factory=set)  # local days with an appointment
    treated: bool = False
    busy: bool = False


@dataclass
class Visit:
    """An appointment, before it is written."""

    pk: int
    public_id: uuid.UUID
    person: Person
    kind: str  # AppointmentKind value
    starts_at: datetime
    ends_at: datetime
    blocks_until: datetime
    chair: int | None
    status: str = "booked"
    course: int | None = None
    session_state: str | None = None  # infusions: the session's state, None: no session
    cancel_reason: str = ""


class Seeder:
    def __init__(self, *, seed: int, scale: float, now: datetime, out: Any = sys.stdout) -> None:
        self.rng = random.Random(seed)
        self.scale = scale
        self.now = now
        self.out = out
        self.started = clock.monotonic()
        self.sites: list[Site] = []
        self.people: list[Person] = []
        self.visits: list[Visit] = []
        self.staff_nurses: list[int] = []
        self.surnames = self._surnames()

    def say(self, text: str) -> None:
        print(f"[{clock.monotonic() - self.started:6.1f} s] {text}", file=self.out, flush=True)

    # --- The clinic, through the project's own code -----------------------------------------

    def seed_clinic(self) -> None:
        from django.contrib.auth.hashers import make_password
        from django.core.management import call_command
        from django.db import transaction
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from clinic.audit import audit_record
        from clinic.models import AuditEvent, Chair, Closure, Location, User
        from clinic.services import chair_create, location_create, location_set_opening_hours
        from scheduling.models import StaffShift

        call_command("seed_demo", verbosity=0)  # Riverside, Mesa, consent form, FAQ
        with transaction.atomic():
            for number, (name, city, region, zone, chairs, saturday) in enumerate(CHAIN):
                location = Location.objects.filter(name=name).first()
                if location is None:
                    location = location_create(
                        actor=None,
                        name=name,
                        address_line1=f"{100 + number * 7} {self.rng.choice(STREETS)} Street",
                        city=city,
                        region=region,
                        postal_code=f"{10000 + number * 7919 % 89999:05d}",
                        phone=f"+1 555 010 {1000 + number:04d}",
                        email=f"{name.lower().replace(' ', '')}@{BENCH_EMAIL_DOMAIN}",
                        on_call_email=f"oncall-{number}@{BENCH_EMAIL_DOMAIN}",
                        time_zone=zone,
                    )
                hours = dict.fromkeys(range(5), WEEKDAY_HOURS)
                if saturday:
                    hours[5] = SATURDAY_HOURS
                location_set_opening_hours(actor=None, location=location, hours=hours)
                existing = set(location.chairs.values_list("name", flat=True))
                for n in range(1, chairs + 1):
                    if f"Chair {n}" not in existing:
                        chair_create(actor=None, location=location, name=f"Chair {n}")
                closed = self._holidays()
                Closure.objects.filter(location=location, starts_on__in=closed).delete()
                Closure.objects.bulk_create(
                    Closure(location=location, starts_on=day, ends_on=day, reason=reason)
                    for day, reason in sorted(closed.items())
                )
                self.sites.append(
                    Site(
                        pk=location.pk,
                        name=name,
                        tz=ZoneInfo(zone),
                        chairs=list(
                            Chair.objects.filter(location=location)
                            .order_by("name")
                            .values_list("pk", flat=True)
                        ),
                        hours=hours,
                        closed=set(closed),
                    )
                )

            # Staff: the benchmark's logins, then a physician, two nurses and a front desk
            # at every location (one password hash for all: hashing is slow on purpose).
            password = make_password(BENCH_PASSWORD)
            for role, (_mailbox, full_name, roles) in BENCH_STAFF.items():
                user = User.objects.filter(email=bench_email(role)).first()
                if user is None:
                    user = User.objects.create_user(
                        bench_email(role), BENCH_PASSWORD, full_name=full_name, roles=roles
                    )
                    audit_record(
                        actor=None,
                        action=AuditEvent.Action.CREATE,
                        target=user,
                        summary="created the benchmark account (benchmarks/seed.py)",
                    )
                if role != "frontdesk":
                    TOTPDevice.objects.get_or_create(
                        user=user,
                        name="Authenticator app",
                        defaults={"key": BENCH_TOTP_KEY, "confirmed": True},
                    )
            bench_nurse = User.objects.get(email=bench_email("nurse"))
            bench_physician = User.objects.get(email=bench_email("physician"))
            users = []
            for site in self.sites:
                slug = site.name.lower().replace(" ", "-")
                for role, count in (("physician", 1), ("nurse", 2), ("front_desk", 1)):
                    for n in range(1, count + 1):
                        first = self.rng.choice(FIRST_NAMES)
                        last = self.rng.choice(COMMON_SURNAMES)
                        users.append(
                            User(
                                email=f"{role.replace('_', '')}{n}.{slug}@{BENCH_EMAIL_DOMAIN}",
                                full_name=f"{first} {last}",
                                roles=[role],
                                password=password,
                                public_id=uuid4(self.rng),
                            )
                        )
            emails = [u.email for u in users]
            User.objects.bulk_create(users, ignore_conflicts=True)
            by_email = dict(User.objects.filter(email__in=emails).values_list("email", "pk"))
            shifts = []
            for site in self.sites:
                slug = site.name.lower().replace(" ", "-")
                site.physician = by_email[f"physician1.{slug}@{BENCH_EMAIL_DOMAIN}"]
                site.nurses = [by_email[f"nurse{n}.{slug}@{BENCH_EMAIL_DOMAIN}"] for n in (1, 2)]
                site.front_desk = by_email[f"frontdesk1.{slug}@{BENCH_EMAIL_DOMAIN}"]
                for staff in [site.physician, *site.nurses]:
                    for weekday, (opens, closes) in site.hours.items():
                        shifts.append(
                            StaffShift(
                                staff_id=staff,
                                location_id=site.pk,
                                weekday=weekday,
                                starts_at=opens,
                                ends_at=closes,
                            )
                        )
            # The benchmark's nurse and physician work at the first location.
            for staff in (bench_nurse.pk, bench_physician.pk):
                for weekday, (opens, closes) in self.sites[0].hours.items():
                    shifts.append(
                        StaffShift(
                            staff_id=staff,
                            location_id=self.sites[0].pk,
                            weekday=weekday,
                            starts_at=opens,
                            ends_at=closes,
                        )
                    )
            StaffShift.objects.bulk_create(shifts, ignore_conflicts=True)
            self.sites[0].nurses.append(bench_nurse.pk)
        self.say(
            f"clinic: {len(self.sites)} locations, "
            f"{sum(len(s.chairs) for s in self.sites)} chairs, {len(users) + 4} staff"
        )

    def _holidays(self) -> dict[date, str]:
        from clinic.management.commands.seed_demo import upcoming_holiday

        days: dict[date, str] = {}
        day = (self.now - timedelta(days=HISTORY_DAYS + 7)).date()
        end = (self.now + timedelta(days=AHEAD_DAYS + 60)).date()
        while day <= end:
            holiday, name = upcoming_holiday(day)
            if holiday > end:
                break
            days[holiday] = name
            day = holiday + timedelta(days=1)
        return days

    def _surnames(self) -> list[str]:
        names = list(COMMON_SURNAMES)
        for start in SURNAME_STARTS:
            for end in SURNAME_ENDS:
                names.append(start + end)
        return names

    # --- People -----------------------------------------------------------------------------

    def make_people(self) -> None:
        rng = self.rng
        count = scaled(PATIENTS, self.scale)
        # Zipf-like surnames: the commonest is ~1 % of patients, the tail a handful each.
        weights = [1 / (rank + 8) for rank in range(len(self.surnames))]
        lasts = rng.choices(self.surnames, weights=weights, k=count)
        start = self.now - timedelta(days=HISTORY_DAYS)
        condition_keys = [key for key, _ in CONDITIONS]
        condition_weights = [weight for _, weight in CONDITIONS]
        for n in range(count):
            site = rng.choice(self.sites)
            first_condition = rng.choices(condition_keys, weights=condition_weights)[0]
            conditions = [first_condition]
            if rng.random() < 0.35:
                other = rng.choices(condition_keys, weights=condition_weights)[0]
                if other != first_condition:
                    conditions.append(other)
            # Slightly more patients recently (the chain grows).
            offset = HISTORY_DAYS * math.sqrt(rng.random())
            created = start + timedelta(days=offset, minutes=rng.randrange(24 * 60))
            created = min(created, self.now - timedelta(hours=1))
            first = rng.choice(FIRST_NAMES)
            last = lasts[n]
            self.people.append(
                Person(
                    pk=n + 1,
                    public_id=uuid4(rng),
                    site=site,
                    conditions=conditions,
                    created_at=created,
                    mobile=f"+1{rng.randrange(201, 990)}555{rng.randrange(10000):04d}",
                    email=f"{first}.{last}{n}@example.com".lower()
                    .replace("'", "")
                    .replace(" ", ""),
                    weight=Decimal(rng.randrange(500, 1300)) / 10,
                    sex=rng.choice(["female", "female", "male", "intersex"])
                    if rng.random() < 0.02
                    else rng.choice(["female", "male"]),
                )
            )
        self._first_names = {}
        for person in self.people:
            self._first_names[person.pk] = rng.choice(FIRST_NAMES)
        self._last_names = {person.pk: lasts[person.pk - 1] for person in self.people}
        # The busy ones: joined early, weekly boosters ever since.
        early = sorted(self.people, key=lambda p: p.created_at)[: max(40, count // 50)]
        for person in rng.sample(early, min(len(early), max(1, round(BUSY_PATIENTS * self.scale)))):
            person.busy = True
        self.say(f"people: {count} patients")

    # --- The schedule -----------------------------------------------------------------------

    def local_day(self, site: Site, moment: datetime) -> date:
        return moment.astimezone(site.tz).date()

    def chair_slots(self, site: Site, day: date) -> list[tuple[int, datetime]]:
        """Free (chair, start) pairs of ``day``: starts every 90 minutes from opening while
        an infusion and its recovery (85 minutes) fit before closing."""
        slots = site.free_chairs.get(day)
        if slots is None:
            slots = []
            if site.open_on(day):
                opens, closes = site.hours[day.weekday()]
                moment = datetime.combine(day, opens)
                last = datetime.combine(day, closes) - timedelta(minutes=85)
                while moment <= last:
                    for chair in site.chairs:
                        slots.append((chair, site.at(day, moment.time())))
                    moment += timedelta(minutes=90)
            self.rng.shuffle(slots)
            site.free_chairs[day] = slots
        return slots

    def visit_time(self, site: Site, day: date, minutes: int) -> datetime | None:
        if not site.open_on(day):
            return None
        opens, closes = site.hours[day.weekday()]
        first = opens.hour * 60 + opens.minute
        last = closes.hour * 60 + closes.minute - minutes
        start = first + 15 * self.rng.randrange((last - first) // 15 + 1)
        return site.at(day, time(start // 60, start % 60))

    def book_infusion(
        self, person: Person, day: date, kind: str, course: int | None, *, search: int = 7
    ) -> Visit | None:
        """An infusion or booster on ``day`` or one of the next ``search`` days with a free
        chair and nothing else booked for the patient."""
        site = person.site
        for offset in range(search):
            candidate = day + timedelta(days=offset)
            if candidate in person.days:
                continue
            slots = self.chair_slots(site, candidate)
            if not slots:
                continue
            chair, starts = slots.pop()
            person.days.add(candidate)
            return self._visit(person, kind, starts, 40, 45, chair, course)
        return None

    def book_visit(
        self, person: Person, day: date, kind: str, *, search: int = 7, until: date | None = None
    ) -> Visit | None:
        minutes = 45 if kind == "consultation" else 30
        for offset in range(search):
            candidate = day + timedelta(days=offset)
            if until is not None and candidate > until:
                return None
            if candidate in person.days:
                continue
            starts = self.visit_time(person.site, candidate, minutes)
            if starts is None:
                continue
            person.days.add(candidate)
            return self._visit(person, kind, starts, minutes, 0, None, None)
        return None

    def _visit(
        self,
        person: Person,
        kind: str,
        starts: datetime,
        minutes: int,
        recovery: int,
        chair: int | None,
        course: int | None,
    ) -> Visit:
        visit = Visit(
            pk=len(self.visits) + 1,
            public_id=uuid4(self.rng),
            person=person,
            kind=kind,
            starts_at=starts,
            ends_at=starts + timedelta(minutes=minutes),
            blocks_until=starts + timedelta(minutes=minutes + recovery),
            chair=chair,
            course=course,
        )
        self.visits.append(visit)
        return visit

    def make_journeys(self) -> None:
        """Consultations for everyone; screening and treatment for some, until the sessions
        reach their number; then follow-up visits up to the appointments' number."""
        rng = self.rng
        # About 8 % of past infusions end cancelled or a no-show, with no session (settle()).
        session_target = scaled(SESSIONS, self.scale) / 0.92
        self.courses: list[dict] = []
        self.treated: list[Person] = []
        sessions = 0
        order = sorted(self.people, key=lambda p: (not p.busy, rng.random()))
        for person in order:
            created_day = self.local_day(person.site, person.created_at)
            consult = self.book_visit(
                person, created_day + timedelta(days=rng.randrange(2, 12)), "consultation"
            )
            if consult is None:
                continue
            person.consultation = consult
            roll = 1.0 if person.busy else rng.random()
            if consult.starts_at > self.now or roll < 0.12:
                person.status = rng.choice(["consultation_requested", "intake_in_progress"])
                continue
            if roll < 0.18:
                person.status = "awaiting_decision"
                continue
            if roll < 0.24:
                person.status = rng.choice(["deferred", "declined"])
                continue
            person.decided_at = consult.ends_at + timedelta(days=rng.randrange(1, 8))
            if person.decided_at > self.now:
                person.status = "awaiting_decision"
                continue
            person.status = "approved"
            if sessions >= session_target and not person.busy:
                continue
            sessions += self.treat(person)
        self.say(f"journeys: {sessions} infusion sessions for {len(self.treated)} patients")

    def treat(self, person: Person) -> int:
        """An induction course (and maybe maintenance) for an approved patient; returns the
        number of infusions that had a session."""
        rng = self.rng
        start_day = self.local_day(person.site, person.decided_at) + timedelta(
            days=rng.randrange(2, 14)
        )
        if start_day > (self.now + timedelta(days=AHEAD_DAYS - 7)).date():
            return 0
        person.treated = True
        self.treated.append(person)
        course = {
            "id": len(self.courses) + 1,
            "person": person,
            "created_at": person.decided_at + timedelta(hours=rng.randrange(1, 30)),
            "planned": rng.choice([6, 6, 6, 4, 8]),
            "window": rng.choice([14, 21, 21, 28]),
            "state": "induction",
            "reason": "",
        }
        self.courses.append(course)
        person.course = course
        discontinue_after = rng.randrange(2, course["planned"]) if rng.random() < 0.08 else None
        day = start_day
        infusions = []
        for n in range(course["planned"]):
            if discontinue_after is not None and n >= discontinue_after:
                break
            visit = self.book_infusion(person, day, "infusion", course["id"])
            if visit is None:
                break
            infusions.append(visit)
            day = self.local_day(person.site, visit.starts_at) + timedelta(
                days=rng.choice([2, 2, 3, 3, 4])
            )
        boosters = []
        if infusions and discontinue_after is None and (person.busy or rng.random() < 0.55):
            gap = (5, 9) if person.busy else (21, 56)
            horizon = (self.now + timedelta(days=AHEAD_DAYS)).date()
            day = self.local_day(person.site, infusions[-1].starts_at) + timedelta(
                days=rng.randrange(*gap)
            )
            while day <= horizon:
                visit = self.book_infusion(person, day, "booster", course["id"])
                if visit is not None:
                    boosters.append(visit)
                    if visit.starts_at > self.now:
                        break  # one booked ahead is enough
                day += timedelta(days=rng.randrange(*gap))
            if not person.busy and rng.random() < 0.3 and boosters:
                # Stopped coming at some point: drop the boosters after a random one.
                keep = rng.randrange(1, len(boosters) + 1)
                for visit in boosters[keep:]:
                    self._unbook(visit)
                boosters = boosters[:keep]
        person.infusions = infusions + boosters
        last_start = max((v.starts_at for v in person.infusions), default=None)
        if discontinue_after is not None:
            course["state"] = "discontinued"
            course["reason"] = rng.choice(DISCONTINUED_REASONS)
        elif infusions and infusions[-1].starts_at > self.now - timedelta(days=1):
            course["state"] = "induction"
        elif boosters and last_start > self.now - timedelta(days=70):
            course["state"] = "maintenance"
        elif infusions and len(infusions) == course["planned"]:
            course["state"] = "completed"
        elif infusions:
            course["state"] = "discontinued"
            course["reason"] = rng.choice(DISCONTINUED_REASONS)
        else:
            course["state"] = "planned"
        if course["state"] in ("induction", "maintenance", "planned"):
            person.status = "in_treatment" if infusions else "approved"
        else:
            person.status = rng.choice(["discharged", "in_treatment"])
        return sum(1 for v in person.infusions if v.starts_at < self.now)

    def _unbook(self, visit: Visit) -> None:
        visit.status = "__drop__"
        visit.person.days.discard(self.local_day(visit.person.site, visit.starts_at))
        if visit.chair is not None:
            day = self.local_day(visit.person.site, visit.starts_at)
            self.chair_slots(visit.person.site, day).append((visit.chair, visit.starts_at))

    def fill_boards(self) -> None:
        """This week and the weeks booked ahead: 40-60 appointments a weekday at every
        location (fewer on Saturday), infusions for patients in treatment first."""
        rng = self.rng
        low, high = DAY_BOARD
        by_site: dict[int, list[Person]] = defaultdict(list)
        treated_by_site: dict[int, list[Person]] = defaultdict(list)
        for person in self.people:
            if person.status != "consultation_requested" or person.created_at < self.now:
                by_site[person.site.pk].append(person)
            if person.treated and person.course["state"] in ("induction", "maintenance"):
                treated_by_site[person.site.pk].append(person)
        counts: dict[tuple[int, date], int] = defaultdict(int)
        for visit in self.visits:
            if visit.status != "__drop__":
                site = visit.person.site
                counts[(site.pk, self.local_day(site, visit.starts_at))] += 1
        added = 0
        for site in self.sites:
            today = self.now.astimezone(site.tz).date()
            monday = today - timedelta(days=today.weekday())
            pool = by_site[site.pk]
            treated = treated_by_site[site.pk]
            for offset in range(AHEAD_DAYS + 7):
                day = monday + timedelta(days=offset)
                if not site.open_on(day):
                    continue
                want = rng.randint(low, high) if day.weekday() < 5 else rng.randint(12, 20)
                want = max(1, round(want * min(1.0, self.scale)))
                tries = 0
                while counts[(site.pk, day)] < want and tries < want * 6:
                    tries += 1
                    if treated and rng.random() < 0.6:
                        person = rng.choice(treated)
                        visit = self.book_infusion(
                            person, day, "booster", person.course["id"], search=1
                        )
                        if visit is not None:
                            person.infusions.append(visit)
                    else:
                        person = rng.choice(pool)
                        visit = self.book_visit(person, day, "follow_up", search=1)
                    if visit is not None:
                        counts[(site.pk, day)] += 1
                        added += 1
        self.say(f"boards: {added} appointments this week and ahead")

    def fill_history(self) -> None:
        """Follow-up visits over the two years before this week, up to the appointments'
        number, spread evenly in time (about as many a day early on as lately, as a chain
        books what its chairs and clinicians hold); patients in treatment come more often.
        This week and the weeks ahead are ``fill_boards``'s."""
        rng = self.rng
        target = scaled(APPOINTMENTS, self.scale)
        live = sum(1 for v in self.visits if v.status != "__drop__")
        seen = sorted(
            (
                p
                for p in self.people
                if hasattr(p, "consultation") and p.consultation.starts_at < self.now
            ),
            key=lambda p: p.consultation.starts_at,
        )
        firsts = [p.consultation.starts_at for p in seen]
        start = self.now - timedelta(days=HISTORY_DAYS)
        monday = self.now.date() - timedelta(days=self.now.weekday())
        span = (datetime.combine(monday, time(0), tzinfo=UTC) - start).total_seconds()
        added = 0
        for _ in range(target * 30):
            if live + added >= target or not seen:
                break
            moment = start + timedelta(seconds=rng.random() * span)
            eligible = bisect.bisect_left(firsts, moment)
            if eligible == 0:
                continue
            person = seen[rng.randrange(eligible)]
            if not person.treated and rng.random() < 5 / 6:
                continue  # those in treatment come six times as often
            local_today = self.now.astimezone(person.site.tz).date()
            until = local_today - timedelta(days=local_today.weekday() + 1)
            day = self.local_day(person.site, moment)
            visit = self.book_visit(person, day, "follow_up", until=until)
            if visit is not None:
                added += 1
        self.say(f"history: {added} follow-up visits")

    # --- Statuses and sessions, from the clock ----------------------------------------------

    def settle(self) -> None:
        """Each appointment's status, and its session's state, from where it stands against
        now."""
        rng = self.rng
        grace = timedelta(minutes=15)
        for visit in self.visits:
            if visit.status == "__drop__":
                continue
            infusion = visit.kind in ("infusion", "booster")
            if visit.blocks_until <= self.now:
                roll = rng.random()
                if roll < 0.05:
                    visit.status = "cancelled"
                    visit.cancel_reason = rng.choice(CANCEL_REASONS)
                elif roll < 0.08 and visit.starts_at + grace < self.now:
                    visit.status = "no_show"
                elif infusion and roll < 0.095:
                    visit.status = "cancelled"
                    visit.cancel_reason = "Not started: see the session"
                    visit.session_state = "not_started"
                elif infusion and roll < 0.11:
                    visit.status = "discharged"
                    visit.session_state = "stopped_early"
                else:
                    visit.status = "discharged"
                    visit.session_state = "discharged" if infusion else None
            elif visit.starts_at > self.now + timedelta(minutes=60):
                if rng.random() < 0.04:
                    visit.status = "cancelled"
                    visit.cancel_reason = rng.choice(CANCEL_REASONS)
            elif infusion:
                into = (self.now - visit.starts_at).total_seconds() / 60
                if into < 0:
                    visit.status, visit.session_state = "checked_in", "checked_in"
                elif into < 40:
                    visit.status, visit.session_state = "infusing", "infusing"
                else:
                    visit.status, visit.session_state = "recovering", "recovering"
            else:
                visit.status = "checked_in" if visit.starts_at <= self.now + grace else "booked"
        self.visits = [v for v in self.visits if v.status != "__drop__"]
        for number, visit in enumerate(self.visits, 1):
            visit.pk = number

    # --- Writing -----------------------------------------------------------------------------

    def write(self, connection: Any) -> None:
        from django.apps import apps

        m = apps.get_model
        copier = Copier(connection)
        cursor = connection.cursor()
        tables = {
            name: Table(m(*name.split(".")))
            for name in [
                "patients.Patient",
                "patients.CommunicationConsent",
                "patients.IntakeSubmission",
                "patients.Measurement",
                "patients.QuestionnaireResponse",
                "patients.ScreeningResult",
                "patients.ScreeningDecision",
                "patients.ConsentSignature",
                "scheduling.TreatmentCourse",
                "scheduling.Appointment",
                "infusions.InfusionSession",
                "infusions.SessionStateChange",
                "infusions.PreAssessment",
                "infusions.DoseOrder",
                "infusions.DoseAdministration",
                "infusions.Lot",
                "infusions.LedgerEntry",
                "infusions.Discharge",
                "infusions.SessionAlert",
                "clinic.OutboxMessage",
            ]
        }
        for table in tables.values():
            cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table.table}")  # noqa: S608
            table.next_id = cursor.fetchone()[0]
        self.tables = tables
        self.copier = copier
        self.connection = connection

        # Keep foreign keys checked row by row (no queue of millions of deferred checks);
        # only the infusion-day agreement waits for the end, as the services need it to.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(
            "SET CONSTRAINTS infusion_day_agrees_appointment, infusion_day_agrees_session DEFERRED"
        )
        self.write_patients()
        self.write_schedule()
        self.write_sessions()
        self.write_questionnaires()
        self.write_messages()

    def _staff_for(self, site: Site) -> tuple[int, int, int]:
        nurse, witness = self.rng.sample(site.nurses, 2)
        return nurse, witness, site.physician

    def write_patients(self) -> None:
        rng = self.rng
        t = self.tables
        patient, consent = t["patients.Patient"], t["patients.CommunicationConsent"]
        first_id = patient.next_id
        from patients.models import ConsentDocument

        document = ConsentDocument.objects.order_by("-version").first()
        for person in self.people:
            person.pk = first_id + person.pk - 1
            first = self._first_names[person.pk - first_id + 1]
            last = self._last_names[person.pk - first_id + 1]
            person.first, person.last = first, last
            born = date(1950, 1, 1) + timedelta(days=rng.randrange(365 * 54))
            patient.add(
                id=person.pk,
                public_id=person.public_id,
                legal_first_name=first,
                legal_last_name=last,
                preferred_name=rng.choice(FIRST_NAMES) if rng.random() < 0.05 else "",
                date_of_birth=born,
                sex_at_birth=person.sex,
                email=person.email,
                mobile=person.mobile if rng.random() < 0.92 else "",
                address_line1=f"{rng.randrange(1, 9999)} {rng.choice(STREETS)} Avenue",
                city=person.site.name,
                region="",
                postal_code=f"{rng.randrange(10000, 99999)}",
                emergency_contact_name=f"{rng.choice(FIRST_NAMES)} {last}",
                emergency_contact_relationship=rng.choice(["Partner", "Parent", "Friend"]),
                emergency_contact_phone=f"+1{rng.randrange(201, 990)}555{rng.randrange(10000):04d}",
                preferred_location_id=person.site.pk,
                referring_clinician=rng.choice(["", "", "Dr. A. Rivera", "Dr. K. Osei"]),
                conditions=person.conditions,
                weight_kg=person.weight,
                height_cm=Decimal(rng.randrange(1500, 1950)) / 10,
                status=person.status,
                created_at=person.created_at,
                updated_at=person.created_at,
            )
            person.sms_ok = rng.random() < 0.85
            for channel, granted in (("email", True), ("sms", person.sms_ok)):
                consent.add(
                    patient_id=person.pk,
                    channel=channel,
                    granted=granted,
                    recorded_at=person.created_at,
                    method="online booking form",
                )
        self.copier.write(patient)
        self.copier.write(consent)
        self.say(f"patients written ({len(self.people)})")

        # Intake, measurement, baseline questionnaires, screening, decision, consent form.
        intake, measurement = t["patients.IntakeSubmission"], t["patients.Measurement"]
        result, decision = t["patients.ScreeningResult"], t["patients.ScreeningDecision"]
        signature = t["patients.ConsentSignature"]
        self.questionnaire_count = 0
        snapshot = None
        if document is not None:
            snapshot = {
                "title": document.title,
                "version": document.version,
                "introduction": document.introduction,
                "sections": document.sections,
            }
        physicians = {site.pk: site.physician for site in self.sites}
        from patients.questionnaires import instruments_for_conditions

        for person in self.people:
            consult = getattr(person, "consultation", None)
            if consult is None or person.status in ("consultation_requested",):
                continue
            if consult.starts_at > self.now:
                continue
            at = consult.starts_at + timedelta(minutes=10)
            intake_id = intake.add(
                patient_id=person.pk,
                version=1,
                answers={"conditions": person.conditions, "medications": "", "history": ""},
                submitted_at=consult.starts_at - timedelta(days=1),
            )
            if person.status == "intake_in_progress":
                continue
            systolic = rng.randrange(105, 150)
            measurement_id = measurement.add(
                patient_id=person.pk,
                taken_at=at,
                taken_by_id=person.site.nurses[0],
                systolic=systolic,
                diastolic=systolic - rng.randrange(30, 50),
                heart_rate=rng.randrange(58, 95),
                spo2=rng.randrange(95, 101),
                weight_kg=person.weight,
            )
            person.baseline = {}
            phq9_id = None
            for instrument in instruments_for_conditions(person.conditions):
                severity = rng.uniform(0.55, 0.9)
                qid = self.add_questionnaire(person, instrument, severity, "baseline", at)
                person.baseline[instrument.value] = severity
                if instrument.value == "phq9":
                    phq9_id = qid
            outcome = rng.choice(["eligible", "eligible", "review"])
            result_id = result.add(
                public_id=uuid4(rng),
                patient_id=person.pk,
                intake_id=intake_id,
                measurement_id=measurement_id,
                phq9_id=phq9_id,
                created_at=at + timedelta(minutes=30),
                outcome=outcome,
                findings=[],
                facts={},
                thresholds={},
                ruleset_version="2026.11-1",
            )
            if person.status == "awaiting_decision":
                continue
            choice = {"deferred": "defer", "declined": "decline"}.get(person.status, "approve")
            decision.add(
                public_id=uuid4(rng),
                patient_id=person.pk,
                screening_id=result_id,
                ruleset_version="2026.11-1",
                decision=choice,
                decided_by_id=physicians[person.site.pk],
                decided_at=getattr(person, "decided_at", at + timedelta(days=2)),
                reason="Reviewed the screening result and history.",
                needed="A letter from the treating psychiatrist." if choice == "defer" else "",
            )
            if person.treated and document is not None:
                signature.add(
                    public_id=uuid4(rng),
                    patient_id=person.pk,
                    document_id=document.pk,
                    signed_name=f"{person.first} {person.last}",
                    sections_acknowledged=[s["heading"] for s in document.sections],
                    document_snapshot=snapshot,
                    signed_at=person.decided_at + timedelta(hours=2),
                    method="tablet",
                    user_agent="benchmark seed",
                    witnessed_by_id=person.site.nurses[0],
                )
        for name in (
            "patients.IntakeSubmission",
            "patients.Measurement",
            "patients.QuestionnaireResponse",
            "patients.ScreeningResult",
            "patients.ScreeningDecision",
            "patients.ConsentSignature",
        ):
            self.copier.write(t[name])
        self.say("screening written")

    def add_questionnaire(
        self, person: Person, instrument: Any, severity: float, context: str, at: datetime
    ) -> int:
        """A scored questionnaire whose total is about ``severity`` of the maximum."""
        from patients.questionnaires import definition_for, score

        rng = self.rng
        definition = definition_for(instrument)
        keys = list(definition.item_keys)
        top = definition.item_max
        if definition.instrument.value == "phq9":
            keys.remove("q9")  # thoughts of self-harm would raise a safety alert
        answers = dict.fromkeys(definition.item_keys, 0)
        want = round(max(0.0, min(1.0, severity)) * top * len(keys))
        while want > 0:
            key = rng.choice(keys)
            if answers[key] < top:
                answers[key] += 1
                want -= 1
        scored = score(instrument, answers)
        self.questionnaire_count += 1
        return self.tables["patients.QuestionnaireResponse"].add(
            patient_id=person.pk,
            instrument=scored.instrument.value,
            context=context,
            answers=scored.answers,
            total=scored.total,
            band=scored.band,
            item9_positive=scored.item9_positive,
            completed_at=at,
            entered_by_id=person.site.nurses[0],
        )

    def write_schedule(self) -> None:
        rng = self.rng
        t = self.tables
        course_table, appointment = t["scheduling.TreatmentCourse"], t["scheduling.Appointment"]
        course_ids = {}
        for course in self.courses:
            person = course["person"]
            pk = course_table.add(
                public_id=uuid4(rng),
                patient_id=person.pk,
                location_id=person.site.pk,
                state=course["state"],
                planned_infusions=course["planned"],
                window_days=course["window"],
                discontinued_reason=course["reason"],
                created_by_id=person.site.physician,
                created_at=course["created_at"],
            )
            course_ids[course["id"]] = pk
        self.copier.write(course_table)
        from scheduling.models import AppointmentType

        types = dict(AppointmentType.objects.values_list("kind", "pk"))
        first_id = appointment.next_id
        for visit in self.visits:
            visit.pk = first_id + visit.pk - 1
            site = visit.person.site
            clinician = (
                rng.choice(site.nurses) if visit.kind in ("infusion", "booster") else site.physician
            )
            created = min(visit.starts_at - timedelta(days=rng.randrange(1, 21)), self.now)
            created = max(created, visit.person.created_at)
            appointment.add(
                id=visit.pk,
                public_id=visit.public_id,
                patient_id=visit.person.pk,
                location_id=site.pk,
                appointment_type_id=types[visit.kind],
                chair_id=visit.chair,
                clinician_id=clinician,
                course_id=course_ids.get(visit.course) if visit.course else None,
                starts_at=visit.starts_at,
                ends_at=visit.ends_at,
                blocks_until=visit.blocks_until,
                status=visit.status,
                source="online" if visit.kind == "consultation" and rng.random() < 0.4 else "staff",
                cancel_reason=visit.cancel_reason,
                created_by_id=site.front_desk,
                created_at=created,
                updated_at=created,
            )
        self.copier.write(appointment)
        self.say(f"courses and appointments written ({len(self.visits)})")

    def write_sessions(self) -> None:
        """Sessions with their state changes, pre-assessment, dose order and what was given
        (from a lot, in the controlled-substance ledger), readings, alerts and discharge."""
        from infusions.vitals import Reading, alerts_for

        rng = self.rng
        t = self.tables
        session_t, change_t = t["infusions.InfusionSession"], t["infusions.SessionStateChange"]
        pre_t, order_t = t["infusions.PreAssessment"], t["infusions.DoseOrder"]
        given_t, lot_t = t["infusions.DoseAdministration"], t["infusions.Lot"]
        entry_t, discharge_t = t["infusions.LedgerEntry"], t["infusions.Discharge"]
        alert_t = t["infusions.SessionAlert"]
        from infusions.models import VitalsReading

        reading_table = Table(VitalsReading)
        cursor = self.connection.cursor()
        cursor.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM infusions_vitalsreading")
        reading_table.next_id = cursor.fetchone()[0]

        with_sessions = sorted(
            (v for v in self.visits if v.session_state), key=lambda v: v.starts_at
        )
        # Lots: one delivery a quarter at each location, sized to what was used.
        drawn_by_lot: dict[tuple[int, int], Decimal] = defaultdict(Decimal)
        for visit in with_sessions:
            if visit.session_state in ("infusing", "recovering", "discharged", "stopped_early"):
                key = (visit.person.site.pk, self._quarter(visit.starts_at))
                drawn_by_lot[key] += self._drawn(visit.person.weight)
        lots: dict[tuple[int, int], dict] = {}
        sites = {site.pk: site for site in self.sites}
        for (site_pk, quarter), drawn in sorted(drawn_by_lot.items()):
            site = sites[site_pk]
            volume = ((drawn + 500) / 50 / 10).to_integral_value(ROUND_UP) * 10  # 10 mL vials
            received = self._quarter_start(quarter) - timedelta(days=3)
            amount = volume * 50
            lot_id = lot_t.add(
                public_id=uuid4(rng),
                location_id=site_pk,
                product_name="Ketamine HCl injection 50 mg/mL",
                concentration_mg_per_ml=Decimal(50),
                volume_ml=volume,
                lot_number=f"BN-{site_pk:02d}-{quarter}",
                expiry_date=(received + timedelta(days=540)).date(),
                supplier="Benchmark Pharmacy Supply",
                # What 21 CFR 1304.22(c) asks of a receipt (the database refuses a lot
                # without it): the supplier's address and DEA number, the containers.
                supplier_address="400 Depot Road, Memphis, TN 38118",
                supplier_dea_number="PB1234563",
                container_volume_ml=Decimal(10),
                containers_received=int(volume / 10),
                invoice_number=f"INV-{site_pk:02d}-{quarter}",
                received_by_id=site.nurses[0],
                received_at=received,
                balance_mg=Decimal(0),  # set below, once the doses are known
            )
            entry_t.add(
                public_id=uuid4(rng),
                lot_id=lot_id,
                kind="receipt",
                amount_mg=amount,
                balance_after_mg=amount,
                recorded_by_id=site.nurses[0],
                occurred_at=received,
                created_at=received,
            )
            lots[(site_pk, quarter)] = {"id": lot_id, "balance": amount}

        readings = 0
        alerts = 0
        for visit in with_sessions:
            site = visit.person.site
            state = visit.session_state
            nurse, witness, physician = self._staff_for(site)
            starts = visit.starts_at
            checked_in = starts - timedelta(minutes=rng.randrange(5, 25))
            checked_in = min(checked_in, self.now - timedelta(minutes=1))
            final = state in ("discharged", "stopped_early", "not_started")
            steps: list[tuple[str, str, datetime, str]] = []
            started_at = ended_at = None
            stop_reason = ""
            infuse_minutes = 40
            if state == "not_started":
                stop_reason = rng.choice(NOT_STARTED_REASONS)
                steps = [
                    ("scheduled", "checked_in", checked_in, ""),
                    ("checked_in", "not_started", checked_in + timedelta(minutes=15), stop_reason),
                ]
                ended_at = steps[-1][2]
            else:
                steps.append(("scheduled", "checked_in", checked_in, ""))
                if state != "checked_in":
                    steps.append(
                        ("checked_in", "pre_assessment_passed", starts - timedelta(minutes=3), "")
                    )
                    steps.append(("pre_assessment_passed", "infusing", starts, ""))
                    started_at = starts
                if state == "stopped_early":
                    infuse_minutes = rng.randrange(10, 30)
                    stop_reason = rng.choice(STOP_REASONS)
                    stop = starts + timedelta(minutes=infuse_minutes)
                    steps.append(("infusing", "stopped_early", stop, stop_reason))
                    ended_at = stop + timedelta(minutes=45)
                elif state in ("recovering", "discharged"):
                    steps.append(("infusing", "recovering", starts + timedelta(minutes=40), ""))
                    if state == "discharged":
                        ended_at = visit.blocks_until
                        steps.append(("recovering", "discharged", ended_at, ""))
            session_id = session_t.add(
                public_id=uuid4(rng),
                appointment_id=visit.pk,
                state=state,
                stop_reason=stop_reason,
                started_at=started_at,
                ended_at=ended_at if final else None,
                created_at=checked_in,
            )
            for from_state, to_state, at, reason in steps:
                change_t.add(
                    session_id=session_id,
                    from_state=from_state,
                    to_state=to_state,
                    at=at,
                    by_id=site.front_desk if to_state == "checked_in" else nurse,
                    reason=reason,
                )
            visit.session = (session_id, nurse, witness, physician, ended_at, infuse_minutes)
        # Sessions first: foreign keys are checked row by row.
        self.copier.write(session_t)
        self.copier.write(change_t)

        for visit in with_sessions:
            state = visit.session_state
            if state in ("not_started", "checked_in"):
                continue
            site = visit.person.site
            starts = visit.starts_at
            session_id, nurse, witness, physician, ended_at, infuse_minutes = visit.session
            checked_in = starts - timedelta(minutes=10)

            # The readings: one before (the pre-assessment's), then about one a minute.
            end_of_readings = min(ended_at or self.now, self.now)
            count = max(20, round(rng.gauss(READINGS_PER_SESSION, 12)))
            base_sys = rng.randrange(110, 145)
            base_dia = min(base_sys - rng.randrange(35, 50), 92)
            base_hr = rng.randrange(60, 88)
            alert_at = rng.randrange(5, 30) if rng.random() < 0.05 else None
            pre_at = starts - timedelta(minutes=8)
            span = (end_of_readings - starts).total_seconds()
            step = span / max(1, count - 1)
            pre_reading_id = 0
            rows = []
            for n in range(count):
                if n == 0:
                    at, phase = pre_at, "pre"
                else:
                    at = starts + timedelta(seconds=step * n)
                    if at > end_of_readings:
                        break
                    minutes_in = (at - starts).total_seconds() / 60
                    phase = "infusing" if minutes_in < infuse_minutes else "recovering"
                rise = 12 if phase == "infusing" else 4 if phase == "recovering" else 0
                systolic = base_sys + rise + rng.randrange(-6, 7)
                diastolic = base_dia + rise // 2 + rng.randrange(-4, 5)
                heart_rate = base_hr + rise // 2 + rng.randrange(-5, 6)
                spo2 = rng.randrange(95, 101)
                respiratory = rng.randrange(12, 19)
                consciousness = (
                    1
                    if phase == "pre"
                    else rng.choice([1, 2, 2, 3] if phase == "infusing" else [1, 1, 2])
                )
                if n == alert_at:
                    systolic = rng.randrange(181, 196)
                    diastolic = systolic - 70
                reading_id = reading_table.take_id()
                if n == 0:
                    pre_reading_id = reading_id
                rows.append(
                    (
                        reading_id,
                        uuid4(rng),
                        session_id,
                        phase,
                        at,
                        systolic,
                        diastolic,
                        heart_rate,
                        spo2,
                        respiratory,
                        consciousness,
                        rng.randrange(0, 3) if n % 15 == 0 else None,
                        "manual" if phase == "pre" else "monitor",
                        nurse,
                        at,
                        None,
                        None,
                        "",
                    )
                )
                if n == alert_at:
                    found = alerts_for(
                        Reading(systolic, diastolic, heart_rate, spo2, respiratory, consciousness)
                    )
                    if found:
                        alerts += 1
                        alert_t.add(
                            public_id=uuid4(rng),
                            session_id=session_id,
                            reading_id=reading_id,
                            findings=[
                                {
                                    "parameter": a.parameter,
                                    "direction": a.kind.value,
                                    "value": a.value,
                                    "threshold": a.threshold,
                                    "message": a.message,
                                }
                                for a in found
                            ],
                            message=" ".join(a.message for a in found),
                            raised_at=at,
                            acknowledged_by_id=nurse,
                            acknowledged_at=at + timedelta(minutes=2),
                            action="continue",
                            action_note="Rechecked after two minutes.",
                        )
            readings += len(rows)
            reading_table.rows.extend(rows)
            if len(reading_table.rows) >= 200_000:
                self.copier.write_rows(
                    reading_table.table, self._reading_columns(), reading_table.rows
                )
                reading_table.rows = []

            pre_t.add(
                session_id=session_id,
                identity_confirmed=True,
                weight_kg=visit.person.weight,
                weighed_at=checked_in + timedelta(minutes=2),
                pregnancy_status="not_pregnant"
                if visit.person.sex == "female"
                else "not_applicable",
                escort_confirmed=True,
                escort_name=f"{rng.choice(FIRST_NAMES)} {visit.person.last}",
                escort_phone="+1 555 010 9999",
                last_ate_at=starts - timedelta(hours=rng.randrange(4, 10)),
                vitals_id=pre_reading_id,
                bp_status="ok",
                recorded_by_id=nurse,
                updated_at=starts - timedelta(minutes=3),
            )
            calc = self._dose(visit.person.weight)
            order_id = order_t.add(
                public_id=uuid4(rng),
                session_id=session_id,
                route="iv_infusion",
                dose_mg_per_kg=calc.dose_mg_per_kg,
                weight_kg=calc.weight_kg,
                duration_minutes=calc.duration_minutes,
                concentration_mg_per_ml=calc.concentration_mg_per_ml,
                total_mg=calc.total_mg,
                rate_mg_per_h=calc.rate_mg_per_h,
                rate_ml_per_h=calc.rate_ml_per_h,
                volume_ml=calc.volume_ml,
                ordered_by_id=physician,
                signed_at=starts - timedelta(minutes=6),
            )
            lot = lots[(site.pk, self._quarter(starts))]
            drawn = self._drawn(visit.person.weight)
            given = calc.total_mg
            wasted = drawn - given
            lot["balance"] -= given
            given_entry = entry_t.add(
                public_id=uuid4(rng),
                lot_id=lot["id"],
                kind="administered",
                amount_mg=-given,
                balance_after_mg=lot["balance"],
                recorded_by_id=nurse,
                patient_id=visit.person.pk,
                session_id=session_id,
                occurred_at=starts,
                created_at=starts,
            )
            wasted_entry = None
            if wasted > 0:
                lot["balance"] -= wasted
                wasted_entry = entry_t.add(
                    public_id=uuid4(rng),
                    lot_id=lot["id"],
                    kind="wasted",
                    amount_mg=-wasted,
                    balance_after_mg=lot["balance"],
                    recorded_by_id=nurse,
                    witness_id=witness,
                    patient_id=visit.person.pk,
                    session_id=session_id,
                    reason="Remainder of the drawn dose",
                    occurred_at=starts + timedelta(minutes=1),
                    created_at=starts + timedelta(minutes=1),
                )
            given_t.add(
                public_id=uuid4(rng),
                order_id=order_id,
                lot_id=lot["id"],
                drawn_mg=drawn,
                administered_mg=given,
                wasted_mg=wasted,
                given_by_id=nurse,
                witness_id=witness if wasted > 0 else None,
                administered_entry_id=given_entry,
                wasted_entry_id=wasted_entry,
                recorded_at=starts + timedelta(minutes=1),
            )
            if state == "discharged":
                discharge_t.add(
                    session_id=session_id,
                    vitals_near_baseline=True,
                    alert_and_oriented=True,
                    aldrete_score=rng.choice([9, 10, 10]),
                    escort_present=True,
                    escort_name=f"{rng.choice(FIRST_NAMES)} {visit.person.last}",
                    instructions_given=True,
                    signed_by_id=nurse,
                    signed_at=ended_at,
                )
        self.copier.write_rows(reading_table.table, self._reading_columns(), reading_table.rows)
        # Lots end with what is left in them (Lot.balance_mg = the sum of its entries).
        balances = {lot["id"]: lot["balance"] for lot in lots.values()}
        lot_t.rows = [
            tuple(
                balances[row[0]] if column == "balance_mg" else value
                for column, value in zip(lot_t.columns, row, strict=True)
            )
            for row in lot_t.rows
        ]
        for name in (
            "infusions.Lot",
            "infusions.LedgerEntry",
            "infusions.PreAssessment",
            "infusions.DoseOrder",
            "infusions.DoseAdministration",
            "infusions.Discharge",
            "infusions.SessionAlert",
        ):
            self.copier.write(t[name])
        self.reading_next_id = reading_table.next_id
        self.say(
            f"sessions written: {len(with_sessions)} sessions, {readings} readings, {alerts} alerts"
        )

    def _reading_columns(self) -> list[str]:
        return [
            "id",
            "public_id",
            "session_id",
            "phase",
            "taken_at",
            "systolic",
            "diastolic",
            "heart_rate",
            "spo2",
            "respiratory_rate",
            "consciousness",
            "pain",
            "source",
            "recorded_by_id",
            "created_at",
            "entered_in_error_at",
            "entered_in_error_by_id",
            "entered_in_error_reason",
        ]

    def _quarter(self, moment: datetime) -> int:
        return moment.year * 4 + (moment.month - 1) // 3

    def _quarter_start(self, quarter: int) -> datetime:
        return datetime(quarter // 4, (quarter % 4) * 3 + 1, 1, 12, tzinfo=UTC)

    def _dose(self, weight: Decimal) -> Any:
        from infusions import dosing

        cache = self.__dict__.setdefault("_doses", {})
        if weight not in cache:
            cache[weight] = dosing.calculate(
                dosing.DoseOrder(
                    dose_mg_per_kg=Decimal("0.5"),
                    weight_kg=weight,
                    duration_minutes=40,
                    concentration_mg_per_ml=Decimal(50),
                )
            )
        return cache[weight]

    def _drawn(self, weight: Decimal) -> Decimal:
        """What is drawn up for a dose: whole 0.2 mL (10 mg) steps of the 50 mg/mL vial."""
        total = self._dose(weight).total_mg
        return (total / 10).to_integral_value(ROUND_UP) * 10

    def write_questionnaires(self) -> None:
        """Before infusions and in follow-up, up to the questionnaires' number: scores that
        fall for responders, stay for the others, and climb again for a few."""
        from patients.questionnaires import instruments_for_conditions

        rng = self.rng
        target = scaled(QUESTIONNAIRES, self.scale)
        occasions = []
        for person in self.treated:
            if not getattr(person, "baseline", None):
                continue
            past = [
                v for v in person.infusions if v.starts_at < self.now and v.status != "cancelled"
            ]
            instruments = instruments_for_conditions(person.conditions)
            person.trend = rng.choice(["responder"] * 5 + ["partial"] * 3 + ["none"] * 2)
            person.relapse = rng.random() < 0.12
            for n, visit in enumerate(past):
                occasions.append(
                    (person, instruments, n, len(past), visit.starts_at, "pre_session")
                )
            # Follow-ups between infusions, every few weeks after the last.
            if past:
                moment = past[-1].starts_at + timedelta(days=rng.randrange(10, 40))
                while moment < self.now:
                    occasions.append(
                        (person, instruments, len(past), len(past), moment, "follow_up")
                    )
                    moment += timedelta(days=rng.randrange(20, 60))
        remaining = target - self.questionnaire_count
        per_occasion = sum(len(o[1]) for o in occasions) or 1
        keep = min(1.0, max(0.0, remaining / per_occasion))
        for person, instruments, n, total, moment, context in occasions:
            if rng.random() >= keep:
                continue
            for instrument in instruments:
                baseline = person.baseline.get(instrument.value, 0.7)
                floor = {"responder": 0.25, "partial": 0.6, "none": 0.95}[person.trend]
                progress = min(1.0, (n + 1) / 6)
                severity = baseline * (1 - (1 - floor) * progress)
                if person.relapse and total and n >= total - 1:
                    severity = min(1.0, severity + 0.3)
                severity += rng.uniform(-0.05, 0.05)
                at = moment - timedelta(minutes=20) if context == "pre_session" else moment
                self.add_questionnaire(person, instrument, severity, context, at)
        self.copier.write(self.tables["patients.QuestionnaireResponse"])
        self.say(f"questionnaires written ({self.questionnaire_count})")

    def write_messages(self) -> None:
        """Reminders (48 and 2 hours before, by text and email) for appointments: sent once
        due, waiting when still to come, up to the messages' number."""
        rng = self.rng
        outbox = self.tables["clinic.OutboxMessage"]
        target = scaled(MESSAGES, self.scale)
        candidates = []
        for visit in self.visits:
            if visit.status == "cancelled":
                continue
            person = visit.person
            channels = ["sms"] if person.sms_ok else []
            channels.append("email")
            for hours in (48, 2):
                for channel in channels:
                    candidates.append((visit, hours, channel))
        keep = min(1.0, target / max(1, len(candidates)))
        for visit, hours, channel in candidates:
            if rng.random() >= keep:
                continue
            person = visit.person
            site = person.site
            local = visit.starts_at.astimezone(site.tz)
            due = (
                datetime.combine(local.date() - timedelta(days=2), local.time(), tzinfo=site.tz)
                if hours == 48
                else visit.starts_at - timedelta(hours=2)
            ).astimezone(UTC)
            useful = visit.starts_at - timedelta(hours=2) if hours == 48 else visit.starts_at
            created = min(visit.starts_at - timedelta(days=3), self.now - timedelta(hours=1))
            values: dict[str, Any] = {
                "public_id": uuid4(rng),
                "idempotency_key": (
                    f"appointment:{visit.public_id}:{moment_text(visit.starts_at)}:"
                    f"reminder-{hours}h:{channel}"
                ),
                "channel": channel,
                "kind": f"reminder_{hours}h",
                "patient_id": person.pk,
                "appointment_id": visit.pk,
                "location_id": site.pk,
                "context": {
                    "starts_at": moment_text(visit.starts_at),
                    "useful_until": moment_text(useful),
                },
                "not_before": due,
                "created_at": created,
            }
            if due <= self.now:
                if rng.random() < 0.04:
                    values.update(status="skipped", skip_reason="no_consent")
                else:
                    when = f"{local:%a %d %b at %H:%M}"
                    values.update(
                        status="sent",
                        attempts=1,
                        sent_at=due + timedelta(seconds=rng.randrange(2, 90)),
                        recipient=person.mobile if channel == "sms" else person.email,
                        subject="" if channel == "sms" else f"Your appointment at {site.name}",
                        body=f"Reminder: your appointment at {site.name} is on {when}.",
                        provider_reference=f"bench-{rng.getrandbits(48):012x}",
                    )
            outbox.add(**values)
        self.copier.write(outbox)
        self.say(f"messages written ({self.copier.counts['clinic_outboxmessage']})")


def _sequences_catch_up(connection: Any) -> None:
    """Point each table's id sequence past the ids written here."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT table_name FROM information_schema.columns
            WHERE table_schema = 'public' AND column_name = 'id'
              AND column_default LIKE 'nextval%%'
               OR (table_schema = 'public' AND column_name = 'id' AND is_identity = 'YES')
            """
        )
        names = [row[0] for row in cursor.fetchall()]
        for name in names:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "  # noqa: S608
                f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {name}), 1))"
            )


def row_counts(connection: Any) -> dict[str, int]:
    """Exact row counts of every table that has any."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
        )
        names = [row[0] for row in cursor.fetchall()]
        counts = {}
        for name in names:
            cursor.execute(f'SELECT COUNT(*) FROM "{name}"')  # noqa: S608
            n = cursor.fetchone()[0]
            if n:
                counts[name] = n
    return counts


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", default="chairside_bench", help="database to fill")
    parser.add_argument("--scale", type=float, default=1.0, help="1 = a chain; 0.01 = smoke")
    parser.add_argument("--seed", type=int, default=1, help="random seed (same seed, same data)")
    parser.add_argument(
        "--replace", action="store_true", help="drop and recreate the database if it exists"
    )
    parser.add_argument("--no-vacuum", action="store_true", help="skip VACUUM ANALYZE at the end")
    return parser.parse_args(argv)


def prepare_environment(url: str) -> None:
    """Settings for seeding: this database, no debug (no demo accounts), a key if none."""
    os.environ["DATABASE_URL"] = url
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "benchmark-only-" + "x" * 40)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")


def seed(
    *, database_name: str, scale: float, seed_value: int, replace: bool, vacuum: bool = True
) -> dict[str, Any]:
    """Create, migrate and fill ``database_name``; returns what ``database.mark`` records."""
    server = database.server_url()
    if database.exists(server, database_name):
        if not replace:
            raise SystemExit(
                f"The database {database_name} exists. Use --replace to drop and refill it."
            )
        database.drop(server, database_name)
    database.create(server, database_name)
    url = database.with_database(server, database_name)
    prepare_environment(url)
    started = clock.monotonic()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    migrated = clock.monotonic()
    now = timezone.now().replace(microsecond=0)
    seeder = Seeder(seed=seed_value, scale=scale, now=now)
    seeder.say(
        f"migrated in {migrated - started:.0f} s; seeding at scale {scale}, seed {seed_value}"
    )
    seeder.seed_clinic()
    seeder.make_people()
    seeder.make_journeys()
    seeder.fill_boards()
    seeder.fill_history()
    seeder.settle()
    with transaction.atomic():
        connection.ensure_connection()
        seeder.write(connection.connection)
    seeder.say("committed (constraint triggers checked)")
    with transaction.atomic():
        _sequences_catch_up(connection)
    if vacuum:
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        seeder.say("VACUUM ANALYZE done")
    seconds = clock.monotonic() - started
    counts = row_counts(connection)
    connection.close()
    facts = {
        "seed": seed_value,
        "scale": scale,
        "seeded_at": now.isoformat(),
        "seconds": round(seconds),
    }
    database.mark(server, database_name, **facts)
    facts["counts"] = counts
    return facts


def main(argv: list[str] | None = None) -> int:
    options = arguments(argv)
    if options.database in database.PROTECTED and options.database != "chairside_bench_template":
        raise SystemExit(f"{options.database} is not a database to seed.")
    facts = seed(
        database_name=options.database,
        scale=options.scale,
        seed_value=options.seed,
        replace=options.replace,
        vacuum=not options.no_vacuum,
    )
    print(f"Seeded {options.database} in {facts['seconds']} s:")
    for name, count in sorted(facts["counts"].items(), key=lambda item: -item[1]):
        print(f"  {name:45} {count:>10,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
