"""Nonsense posted to any form of the session screen or its API gets an answer, never a
server error, and changes nothing: not the session, not its records, not the ledger."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from infusions.models import (
    Discharge,
    DoseAdministration,
    DoseOrder,
    LedgerEntry,
    PreAssessment,
    SessionAlert,
    SessionEvent,
    SessionStateChange,
    VitalsReading,
)
from infusions.models.sessions import InfusionSessionState
from infusions.sessions import session_transition
from infusions.tests.factories import (
    complete_pre_assessment,
    infusion_session,
    signed_order,
    vitals_reading,
)
from infusions.tests.test_ledger import receive
from tests.clock import advance

S = InfusionSessionState

NONSENSE = [
    {"x": "y"},
    {
        name: value
        for name in (
            "identity_confirmed",
            "weight_kg",
            "pregnancy_status",
            "escort_confirmed",
            "escort_name",
            "last_ate_at",
            "systolic",
            "diastolic",
            "heart_rate",
            "spo2",
            "respiratory_rate",
            "consciousness",
            "pain",
            "taken_at",
            "note",
            "route",
            "dose_mg_per_kg",
            "duration_minutes",
            "concentration_mg_per_ml",
            "lot",
            "drawn_mg",
            "administered_mg",
            "witness",
            "witness_password",
            "action",
            "side_effect",
            "severity",
            "occurred_at",
            "medication_name",
            "medication_dose",
            "medication_route",
            "aldrete_score",
            "escort_present",
            "physician",
            "to_state",
            "reason",
        )
        for value in ["\x00" + "9" * 400]
    },
    {"weight_kg": "NaN", "dose_mg_per_kg": "1e999", "drawn_mg": "-Infinity", "systolic": "-5"},
    {"taken_at": "25:61", "occurred_at": "0000-00-00", "last_ate_at": "9999-12-31T99:99"},
    {"lot": "00000000-0000-0000-0000-000000000000", "witness": "not-a-uuid", "physician": "1"},
]
FORMS = [
    "pre-assessment",
    "pre-assessment-vitals",
    "pre-assessment-acknowledge",
    "dose-order",
    "dose-calculate",
    "dose-administer",
    "reading-add",
    "event-add",
    "discharge",
    "session-move",
]
API = [
    "session-transition",
    "session-pre-assessment",
    "session-dose-orders",
    "session-administration",
    "session-readings",
    "session-readings-batch",
    "session-events",
    "session-discharge",
]
RECORDS = [
    PreAssessment,
    DoseOrder,
    DoseAdministration,
    VitalsReading,
    SessionAlert,
    SessionEvent,
    Discharge,
    SessionStateChange,
    LedgerEntry,
]


@pytest.fixture(params=[S.CHECKED_IN, S.INFUSING, S.RECOVERING])
def session(request, nina, phil):
    session = infusion_session(nina, phil)
    receive(nina, session.appointment.location)
    session_transition(actor=nina, session=session, to_state=S.CHECKED_IN)
    if request.param == S.CHECKED_IN:
        return session
    complete_pre_assessment(session, nina)
    signed_order(session, phil)
    for state in (S.PRE_ASSESSMENT_PASSED, S.INFUSING):
        session_transition(actor=nina, session=session, to_state=state)
    vitals_reading(session, nina, phase="infusing")
    if request.param == S.RECOVERING:
        advance(40)  # the order's 40 minutes
        session_transition(actor=nina, session=session, to_state=S.RECOVERING)
        advance(30)  # the least recovery: a discharge is refused for its nonsense alone
    return session


def snapshot(session) -> tuple:
    session.refresh_from_db()
    return (session.state, *(model.objects.count() for model in RECORDS))


# The pre-infusion checks may be saved part-done: a post naming none of their fields is an
# empty save, not nonsense, so those pairs are left out.
PRE_ASSESSMENT_FIELDS = {"identity_confirmed", "weight_kg", "pregnancy_status", "last_ate_at"}


def checks_nonsense(name: str, data: object) -> bool:
    if name not in {"pre-assessment", "session-pre-assessment"}:
        return True
    return isinstance(data, dict) and bool(PRE_ASSESSMENT_FIELDS & set(data))


@pytest.mark.parametrize("name", FORMS)
def test_forms_answer_nonsense_without_an_error_or_a_change(client, nina, phil, session, name):
    before = snapshot(session)
    url = reverse(f"infusions:{name}", args=[session.public_id])

    for data in NONSENSE:
        if not checks_nonsense(name, data):
            continue
        # A physician with htmx, a nurse without: every section answers both ways.
        for user, headers in ((phil, {"HTTP_HX_REQUEST": "true"}), (nina, {})):
            client.force_login(user)
            response = client.post(url, data, **headers)
            assert response.status_code < 500, (name, data, user, response.status_code)

    assert snapshot(session) == before


BODIES = [
    *NONSENSE,
    {"readings": [{"systolic": "NaN"}, None, 7]},
    [1, 2, 3],
    "{not json",
]


@pytest.mark.parametrize("name", API)
def test_the_api_answers_nonsense_without_an_error_or_a_change(client, nina, session, name):
    before = snapshot(session)
    client.force_login(nina)
    url = reverse(f"api:{name}", args=[session.public_id])

    for body in BODIES:
        if not (isinstance(body, str | list) or checks_nonsense(name, body)):
            continue
        text = body if isinstance(body, str) else json.dumps(body)
        for method in (client.post, client.put, client.patch):
            response = method(url, text, content_type="application/json")
            assert response.status_code in {400, 403, 405, 409}, (name, body, response.status_code)

    assert snapshot(session) == before
