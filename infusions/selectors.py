"""Reads of infusion sessions and the ledger, and the access checks that go with them.

``session_for`` is the one way pages, the API and tasks fetch an infusion session for a
member of staff: 403 without ``Capability.VIEW_CLINICAL`` (a session is clinical detail),
404 when there is no such session. ``lot_for`` does the same for ketamine lots, with
``Capability.VIEW_LEDGER`` (reading; writing is ``infusions.ledger``'s to check).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import OuterRef, QuerySet, Subquery
from django.db.models.lookups import IsNull
from django.http import Http404

from clinic.fragments import RowsOf, Source, ValuesOf
from clinic.models import Location
from clinic.permissions import Capability, require, user_can
from clinic.queries import equals_any, prepared_plans
from infusions.models import DoseOrder, InfusionSession, Lot, RemsMonitoringForm
from infusions.orders import DoseHistoryEntry, doses_of_sessions
from patients.models import Patient
from scheduling.models import Appointment


def sessions_visible_to(user: Any) -> QuerySet[InfusionSession]:
    """Every session ``user`` may see, with its appointment, patient and place joined in."""
    if not user_can(user, Capability.VIEW_CLINICAL):
        return InfusionSession.objects.none()
    return InfusionSession.objects.select_related(
        "appointment__patient",
        "appointment__location",
        "appointment__appointment_type",
        "appointment__chair",
        "appointment__clinician",
        "appointment__course",
    )


def session_for(user: Any, public_id: uuid.UUID | str) -> InfusionSession:
    """The session ``user`` may see; 403 without the capability, 404 if there is none."""
    require(user, Capability.VIEW_CLINICAL)
    try:
        # Planned once per connection (prepared_plans): planning the six-table join cost
        # PostgreSQL more than running it, on every action and every 60-second refresh.
        with prepared_plans():
            return (
                sessions_visible_to(user)
                # What the session screen shows of the appointment (its clinician, course,
                # if wanted, one query each).
                .select_related(None)
                .select_related(
                    "appointment__patient",
                    "appointment__location",
                    "appointment__appointment_type",
                    "appointment__chair",
                )
                .get(public_id=public_id)
            )
    except (InfusionSession.DoesNotExist, ValueError, ValidationError):
        raise Http404("No such infusion session.") from None


def rems_form_for(user: Any, public_id: uuid.UUID | str) -> RemsMonitoringForm:
    """The Patient Monitoring Form ``user`` may see: that of a session they may see
    (``sessions_visible_to``); 403 without ``VIEW_CLINICAL``, 404 when there is none."""
    require(user, Capability.VIEW_CLINICAL)
    try:
        uuid.UUID(str(public_id))
    except ValueError:
        raise Http404("No such monitoring form.") from None
    form = (
        RemsMonitoringForm.objects.filter(
            public_id=public_id, session__in=sessions_visible_to(user).values("pk")
        )
        .select_related(
            "session__appointment__patient",
            "session__appointment__location",
            "session__appointment__appointment_type",
            "submitted_by",
        )
        .first()
    )
    if form is None:
        raise Http404("No such monitoring form.")
    return form


def lots_visible_to(user: Any) -> QuerySet[Lot]:
    """Every ketamine lot ``user`` may see, with its location and receiver joined in."""
    if not user_can(user, Capability.VIEW_LEDGER):
        return Lot.objects.none()
    return Lot.objects.select_related("location", "received_by")


def lot_for(user: Any, public_id: uuid.UUID | str) -> Lot:
    """The lot ``user`` may see; 403 without the capability, 404 if there is none."""
    require(user, Capability.VIEW_LEDGER)
    try:
        return lots_visible_to(user).get(public_id=public_id)
    except (Lot.DoesNotExist, ValueError, ValidationError):
        raise Http404("No such lot.") from None


@dataclass(frozen=True)
class PatientSession:
    """One of a patient's sessions as the chart lists it, with its dose: the current order
    and the escalation from the dose before (``infusions.orders.DoseHistoryEntry``)."""

    session: InfusionSession
    dose: DoseHistoryEntry | None


@dataclass(frozen=True)
class PatientSessions:
    """A patient's sessions as the chart shows them: when each one started, newest first
    (None: not started; the outcomes section marks the starts), and the latest of them
    listed with their doses."""

    starts: tuple[datetime | None, ...]
    listed: list[PatientSession]

    @property
    def total(self) -> int:
        return len(self.starts)


def sessions_of_patient(
    user: Any, patient: Patient, *, latest: int | None = None
) -> PatientSessions:
    """The patient's infusion sessions ``user`` may see, newest first: the start of every
    one, and the ``latest`` (None: all) with their appointment, place and dose. Three
    queries however many sessions, and models only for those listed: a patient on weekly
    boosters has a hundred sessions after two years, and the chart lists ten."""
    visible = _patient_sessions_visible_to(user, patient)
    every = list(visible.values_list("pk", "started_at"))
    if not every:
        return PatientSessions(starts=(), listed=[])
    wanted = [pk for pk, _ in (every if latest is None else every[:latest])]
    sessions = list(visible.select_related("appointment__location").filter(pk__in=wanted))
    for session in sessions:
        session.appointment.patient = patient
    doses = doses_of_sessions(patient, {session.pk: session for session in sessions})
    return PatientSessions(
        starts=tuple(started_at for _, started_at in every),
        listed=[
            PatientSession(session=session, dose=doses.get(session.pk)) for session in sessions
        ],
    )


class SessionStartsOfPatient:
    """When each of a patient's sessions ``user`` may see started, newest first (None: not
    started), as ``PatientSessions.starts`` says it, read when first asked for (one query,
    ``session_starts_of_patient``): the chart passes them to its outcomes section, which
    asks for them only when it is drawn."""

    listed: tuple[PatientSession, ...] = ()

    def __init__(self, user: Any, patient: Patient) -> None:
        self._user, self._patient = user, patient

    @cached_property
    def starts(self) -> tuple[datetime | None, ...]:
        """The start of each session (a query, the first time)."""
        every = session_starts_of_patient(self._user, self._patient)
        return tuple(started_at for _, started_at, _ in every)

    @property
    def total(self) -> int:
        return len(self.starts)


def session_starts_of_patient(
    user: Any, patient: Patient
) -> list[tuple[int, datetime | None, int]]:
    """``(pk, started_at, appointment_id)`` of each of the patient's sessions ``user`` may
    see, newest first (``started_at`` None: not started). One query, no models."""
    return list(
        _patient_sessions_visible_to(user, patient).values_list(
            "pk", "started_at", "appointment_id"
        )
    )


def patient_sessions_sources(patient: Patient) -> list[Source]:
    """The rows the chart's list of a patient's sessions shows, for its version
    (``clinic.fragments``): every session of the patient's appointments, the appointments,
    the places, and every dose order of those sessions (the escalation compares each with
    the one before). Subqueries on the patient, so that the chart reads the version with
    its others (``patients.views.chart.chart_versions``) without reading the sessions
    first. Every session of the patient: each clinician sees them all
    (``sessions_visible_to``)."""
    appointments = ValuesOf(Appointment, "pk", "patient", [patient.pk])
    sessions = ValuesOf(InfusionSession, "pk", "appointment", appointments)
    return [
        RowsOf(InfusionSession, "appointment", appointments),
        RowsOf(Appointment, "patient", [patient.pk]),
        RowsOf(Location),  # every place: a dozen rows, cheaper whole than joined
        RowsOf(DoseOrder, "session", sessions),
    ]


def _patient_sessions_visible_to(user: Any, patient: Patient) -> QuerySet[InfusionSession]:
    return (
        sessions_visible_to(user)
        # Only what the chart shows: each join more costs the planner (and, at chain
        # scale, the executor) more than reading the place of each session.
        .select_related(None)
        # Through the session's unique index on its appointment, not a scan of every
        # session (clinic.queries says why).
        .filter(
            equals_any("appointment_id", Appointment.objects.filter(patient=patient).values("pk"))
        )
        .order_by("-appointment__starts_at", "-pk")
    )


def with_session_state(appointments: QuerySet) -> QuerySet:
    """``appointments`` annotated with their infusion session's ``session_state`` (None
    without a session) and ``session_has_order`` (a signed dose order no later one
    replaces), in the same query: the day board says where each infusion is and offers
    "Start infusion" only when the session may start."""
    # Scalar subqueries, evaluated per appointment through the unique index on the
    # session's appointment and the order's session: an EXISTS (or a join) here let
    # PostgreSQL hash every dose order (or session) of the chain for a day's board.
    session = InfusionSession.objects.filter(appointment_id=OuterRef("pk")).order_by()
    current_order = DoseOrder.objects.filter(
        session__appointment_id=OuterRef("pk"), replaced_by__isnull=True
    ).order_by()
    return appointments.annotate(
        session_state=Subquery(session.values("state")[:1]),
        session_has_order=IsNull(Subquery(current_order.values("pk")[:1]), False),
    )
