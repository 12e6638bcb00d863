"""The prescriber's "Dose orders to sign" on the staff home: today's checked-in sessions
with no current order, at the physician's locations; gone once the order is signed."""

from __future__ import annotations

from infusions.contributions import sessions_awaiting_order
from infusions.models.sessions import InfusionSessionState as S
from infusions.sessions import session_transition
from infusions.tests.factories import complete_pre_assessment, infusion_session
from infusions.tests.test_orders import sign


def test_a_checked_in_patient_waits_for_the_physicians_order(client, nina, phil):
    session = infusion_session(nina, phil)  # the clock is ten minutes before it
    session = session_transition(actor=nina, session=session, to_state=S.CHECKED_IN)
    client.force_login(phil)

    not_weighed = client.get("/staff/")
    complete_pre_assessment(session, nina)
    waiting = client.get("/staff/")
    sign(phil, session)
    signed = client.get("/staff/")

    # Nothing to sign before the nurse has weighed the patient today.
    assert not_weighed.context["orders_to_sign"] == []
    assert waiting.context["orders_to_sign"] == [session]
    html = waiting.content.decode()
    assert 'data-testid="order-to-sign"' in html
    assert f"/staff/sessions/{session.public_id}/#dose" in html
    assert signed.context["orders_to_sign"] == []
    assert "No patient is waiting for a dose order today." in signed.content.decode()


def test_only_prescribers_get_the_panel(client, nina, fran, phil):
    session = infusion_session(nina, phil)
    session = session_transition(actor=nina, session=session, to_state=S.CHECKED_IN)
    complete_pre_assessment(session, nina)

    assert sessions_awaiting_order(phil)
    for user in (nina, fran):
        client.force_login(user)
        assert client.get("/staff/").context.get("orders_to_sign") is None
