"""Open vitals alerts for everyone at the location, not only the nurse at the chair.

``open_alerts_for`` feeds ``templates/infusions/partials/_open_alerts.html``, shown on the
staff home page (nurses and physicians: the locations they have shifts at) and as a banner
on the day board (everyone who sees the board of that location). Who sees what is decided
here, once:

- a clinician (``VIEW_CLINICAL``) sees each session with open alerts: the patient, the
  chair, what is out of range, since when, and a link to the session's flowsheet;
- anyone else who sees the board (the front desk) sees only that a session needs a nurse's
  attention, with no clinical detail and no link, as the board's card badge does;
- on the home page, only clinicians see the list.

An alert is open until acknowledged (``infusions.flowsheet_rules.OPEN_ALERT``; a reading marked
in error has its alert acknowledged with it). One query for the alerts, plus one for the
clinician's shifts when no location is given, and one more when any is open, however many
sessions have alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from clinic.models import Location
from clinic.permissions import Capability, user_can
from clinic.queries import prepared_plans
from infusions.flowsheet_rules import OPEN_ALERT
from infusions.models import InfusionSession, SessionAlert
from scheduling.shifts import shift_locations_of


@dataclass
class SessionNeedingAttention:
    """A session with open alerts, oldest alert first."""

    session: InfusionSession  # appointment, patient, location and chair joined in
    alerts: list[SessionAlert] = field(default_factory=list)

    @property
    def since(self) -> datetime:
        return self.alerts[0].raised_at

    @property
    def summary(self) -> str:
        """What is out of range, reading by reading, e.g. "systolic 186 mmHg high, heart
        rate 124/min high; SpO2 90 % low"."""
        return "; ".join(alert.summary for alert in self.alerts)


@dataclass(frozen=True)
class OpenAlertsPanel:
    sessions: list[SessionNeedingAttention]
    clinical: bool  # the viewer may see what is out of range and open the session
    location: Location | None  # the board's location; None on the home page
    by_location: bool  # home page: limited to the locations of the clinician's shifts

    def __bool__(self) -> bool:
        return bool(self.sessions)


def open_alerts_for(user: Any, *, location: Location | None = None) -> OpenAlertsPanel:
    """The sessions with open alerts ``user`` is to be told about: at ``location`` (the
    day board), or at the locations of the clinician's shifts (every location when they
    have none: the home page). Not a clinician and no location: nothing."""
    clinical = user_can(user, Capability.VIEW_CLINICAL)
    empty = OpenAlertsPanel(sessions=[], clinical=clinical, location=location, by_location=False)
    alerts = SessionAlert.objects.filter(OPEN_ALERT)
    by_location = False
    if location is not None:
        if not (clinical or user_can(user, Capability.VIEW_SCHEDULE)):
            return empty
        alerts = alerts.filter(session__appointment__location=location)
    else:
        if not clinical:
            return empty
        shifts = shift_locations_of(user)
        if shifts:
            by_location = True
            alerts = alerts.filter(session__appointment__location_id__in=shifts)
    by_session: dict[int, SessionNeedingAttention] = {}
    # Planned once per connection (prepared_plans): the open alerts are few and found by
    # their own index whatever the place. Most views find none: their ids first, a query
    # cheap to build, then, only when there are some, the alerts with their session,
    # patient, place and chair (the five-table query took longer to build than to run).
    with prepared_plans():
        open_ids = list(alerts.values_list("pk", flat=True))
        rows = (
            list(
                SessionAlert.objects.filter(pk__in=open_ids)
                .select_related(
                    "session__appointment__patient",
                    "session__appointment__location",
                    "session__appointment__chair",
                    "session__appointment__appointment_type",
                )
                .order_by("raised_at", "id")
            )
            if open_ids
            else []
        )
    for alert in rows:
        item = by_session.setdefault(alert.session_id, SessionNeedingAttention(alert.session))
        item.alerts.append(alert)
    return OpenAlertsPanel(
        sessions=list(by_session.values()),
        clinical=clinical,
        location=location,
        by_location=by_location,
    )
