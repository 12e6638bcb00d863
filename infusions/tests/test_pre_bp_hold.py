"""A pre-infusion blood-pressure hold or caution is sticky for the session: a lower reading
afterwards lifts neither, whichever way the readings come in; only a reading marked entered
in error stops counting. The session screen offers no "Pre-assessment passed" on a hold, the
API refuses the move too, and the database refuses it below the services."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.urls import reverse

from infusions import vitals
from infusions.models import InfusionSession, PreAssessment, VitalsReading
from infusions.models.preassessment import BloodPressureStatus
from infusions.models.sessions import InfusionSessionState
from infusions.orders import start_problems
from infusions.preassessment import (
    pre_assessment_acknowledge_caution,
    pre_assessment_record,
    pre_assessment_vitals,
)
from infusions.preassessment_checklist import pre_assessment_problems
from infusions.readings import reading_mark_in_error, reading_record
from infusions.sessions import session_transition
from infusions.tests.factories import infusion_session, signed_order
from infusions.tests.test_preassessment import everything, normal

S = InfusionSessionState
BP = vitals.caution_hold_from_settings()
HOLD = "The blood pressure is at or above the hold limit: no infusion today."
CAUTION = "The blood pressure is at or above the caution limit: a physician must acknowledge it."


@pytest.fixture
def session(nina, phil) -> InfusionSession:
    """Checked in, every other check done."""
    session = infusion_session(nina, phil)
    session = session_transition(actor=nina, session=session, to_state=S.CHECKED_IN)
    pre_assessment_record(actor=nina, session=session, **everything())
    return session


def status_of(session) -> str:
    return PreAssessment.objects.get(session=session).bp_status


@pytest.fixture
def held(nina, session) -> InfusionSession:
    """186/112, then 134/84 after a rest: as on the demo day."""
    pre_assessment_vitals(actor=nina, session=session, values=normal(systolic=186, diastolic=112))
    pre_assessment_vitals(actor=nina, session=session, values=normal(systolic=134, diastolic=84))
    return session


# --- The service ---------------------------------------------------------------------------------


def test_a_lower_reading_does_not_lift_a_hold(nina, phil, held):
    assert status_of(held) == BloodPressureStatus.HOLD
    assert PreAssessment.objects.get(session=held).vitals.systolic == 134
    assert pre_assessment_problems(held) == [HOLD]
    for actor in (nina, phil):
        with pytest.raises(ValidationError) as refused:
            session_transition(actor=actor, session=held, to_state=S.PRE_ASSESSMENT_PASSED)
        assert HOLD in " ".join(refused.value.message_dict["state"])
    held.refresh_from_db()
    assert held.state == S.CHECKED_IN


def test_the_way_out_of_a_hold_is_not_started(nina, held):
    stopped = session_transition(
        actor=nina, session=held, to_state=S.NOT_STARTED, reason="Blood pressure on hold."
    )

    assert stopped.state == S.NOT_STARTED


def test_a_hold_reading_from_the_flowsheet_counts_too(nina, session):
    pre_assessment_vitals(actor=nina, session=session, values=normal())
    reading_record(actor=nina, session=session, values=normal(systolic=BP.hold_systolic))
    pre_assessment_vitals(actor=nina, session=session, values=normal())

    assert status_of(session) == BloodPressureStatus.HOLD
    assert pre_assessment_problems(session) == [HOLD]


def test_a_hold_after_passing_stops_the_start(nina, phil, session):
    pre_assessment_vitals(actor=nina, session=session, values=normal())
    signed_order(session, phil)
    session = session_transition(actor=nina, session=session, to_state=S.PRE_ASSESSMENT_PASSED)

    reading_record(actor=nina, session=session, values=normal(diastolic=BP.hold_diastolic))

    assert HOLD in start_problems(session)
    with pytest.raises(ValidationError):
        session_transition(actor=nina, session=session, to_state=S.INFUSING)
    session.refresh_from_db()
    assert session.started_at is None


def test_a_hold_reading_entered_in_error_stops_counting(nina, held):
    first = VitalsReading.objects.filter(session=held).order_by("id").first()
    assert first.systolic == 186

    reading_mark_in_error(actor=nina, reading=first, reason="Cuff on over a sleeve.")

    assert status_of(held) == BloodPressureStatus.OK
    assert pre_assessment_problems(held) == []


def test_a_lower_reading_still_needs_the_caution_acknowledged(nina, phil, session):
    pre_assessment_vitals(actor=nina, session=session, values=normal(systolic=BP.caution_systolic))
    pre_assessment_vitals(actor=nina, session=session, values=normal())

    assert status_of(session) == BloodPressureStatus.CAUTION
    assert pre_assessment_problems(session) == [CAUTION]
    with pytest.raises(ValidationError):
        session_transition(actor=nina, session=session, to_state=S.PRE_ASSESSMENT_PASSED)

    pre_assessment_acknowledge_caution(actor=phil, session=session, note="Calm after a rest.")

    assert pre_assessment_problems(session) == []


def test_a_normal_reading_after_the_acknowledgement_keeps_it(nina, phil, session):
    pre_assessment_vitals(actor=nina, session=session, values=normal(systolic=BP.caution_systolic))
    pre_assessment_acknowledge_caution(actor=phil, session=session, note="Usual for him.")

    pre_assessment_vitals(actor=nina, session=session, values=normal())

    assessment = PreAssessment.objects.get(session=session)
    assert assessment.caution_acknowledged_by == phil
    assert pre_assessment_problems(session) == []


def test_a_hold_after_an_acknowledged_caution_is_a_hold(nina, phil, session):
    pre_assessment_vitals(actor=nina, session=session, values=normal(systolic=BP.caution_systolic))
    pre_assessment_acknowledge_caution(actor=phil, session=session, note="Usual for him.")

    pre_assessment_vitals(actor=nina, session=session, values=normal(systolic=BP.hold_systolic))

    assessment = PreAssessment.objects.get(session=session)
    assert assessment.bp_status == BloodPressureStatus.HOLD
    assert assessment.caution_acknowledged_by is None
    assert pre_assessment_problems(session) == [HOLD]


# --- The database --------------------------------------------------------------------------------


@pytest.mark.parametrize("state", [S.PRE_ASSESSMENT_PASSED, S.INFUSING])
def test_the_database_refuses_passing_or_starting_on_a_hold(nina, phil, session, state):
    pre_assessment_vitals(actor=nina, session=session, values=normal(systolic=BP.hold_systolic))

    with pytest.raises(DatabaseError, match="blood-pressure hold"), transaction.atomic():
        InfusionSession.objects.filter(pk=session.pk).update(state=state)


def test_the_database_refuses_passing_an_unacknowledged_caution(nina, session):
    pre_assessment_vitals(actor=nina, session=session, values=normal(systolic=BP.caution_systolic))

    with pytest.raises(DatabaseError, match="caution"), transaction.atomic():
        InfusionSession.objects.filter(pk=session.pk).update(state=S.PRE_ASSESSMENT_PASSED)


# --- The session screen and the API --------------------------------------------------------------


def test_the_session_screen_offers_no_pass_on_a_hold(client, nina, held):
    client.force_login(nina)

    page = client.get(reverse("infusions:session", args=[held.public_id])).content.decode()

    assert 'data-testid="pre-hold"' in page
    assert 'value="pre_assessment_passed"' not in page
    assert "Pre-assessment passed" not in page.split('id="moves"')[1].split("</section>")[0]
    assert 'data-testid="pre-hold-reading">Reading at' in page
    assert "BP 186/112" in page
    assert 'value="not_started"' in page


def test_the_session_screen_refuses_the_pass_posted_anyway(client, nina, held):
    client.force_login(nina)

    response = client.post(
        reverse("infusions:session-move", args=[held.public_id]),
        {"to_state": "pre_assessment_passed"},
        follow=True,
    )

    assert HOLD in response.content.decode()
    held.refresh_from_db()
    assert held.state == S.CHECKED_IN


def test_the_api_shows_the_hold_and_refuses_the_pass(client, nina, held):
    client.force_login(nina)
    base = f"/api/v1/sessions/{held.public_id}/"

    shown = client.get(base).json()
    moved = client.post(
        f"{base}transition/",
        {"to_state": "pre_assessment_passed"},
        content_type="application/json",
    )

    assert shown["pre_assessment"]["bp_status"] == "hold"
    assert shown["pre_assessment"]["vitals"]["systolic"] == 134
    assert moved.status_code == 400, moved.json()
    assert HOLD in str(moved.json())
    held.refresh_from_db()
    assert held.state == S.CHECKED_IN
