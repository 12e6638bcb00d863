"""An infusion that ends early after its dose was recorded in full: what was really given is
recorded as new ledger entries (never an edit), the lot's balance stays right, the summary
and the discharge checklist say so, and until then it is outstanding."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction

from conftest import PASSWORD
from infusions.discharge_readiness import discharge_blockers
from infusions.dose_corrections import correction_needed, dose_correct, given_of
from infusions.ledger_reports import lot_balance_from_entries
from infusions.models import DoseCorrection, LedgerEntry
from infusions.models.ledger import LedgerEntryKind
from infusions.models.sessions import InfusionSessionState
from infusions.orders import dose_history
from infusions.sessions import session_transition
from infusions.tests.test_orders import give, infusing, lot  # noqa: F401 - fixtures
from tests.clock import advance

S = InfusionSessionState
D = Decimal


@pytest.fixture
def given(nina, phil, infusing, lot):  # noqa: F811 - the fixtures above
    """40 mg ordered; 50 mg drawn, 40 given, 10 wasted in front of phil; running 3 minutes."""
    give(nina, infusing, lot, witness=phil)
    advance(3)
    return infusing


def stop_early(nina, session):
    return session_transition(
        actor=nina, session=session, to_state=S.STOPPED_EARLY, reason="Nausea and anxiety."
    )


def correct(nina, session, witness, *, given="3.1", wasted="36.9", password=PASSWORD):
    return dose_correct(
        actor=nina,
        session=session,
        given_mg=given,
        wasted_mg=wasted,
        witness=witness,
        witness_password=password,
    )


def test_an_infusion_stopped_early_needs_what_was_really_given(nina, given):
    session = stop_early(nina, given)

    needed = correction_needed(session)

    assert needed is not None
    assert needed.minutes_run == 3 and needed.planned_minutes == 40
    assert "recorded as 40 mg given" in needed.sentence
    assert needed.sentence in discharge_blockers(session)


def test_an_infusion_that_ran_its_course_needs_nothing(nina, given):
    advance(37)
    session = session_transition(actor=nina, session=given, to_state=S.RECOVERING)

    assert correction_needed(session) is None
    assert discharge_blockers(session) == []


def test_an_infusion_ended_well_before_its_time_by_a_physician_needs_it_too(nina, phil, given):
    session = session_transition(
        actor=phil, session=given, to_state=S.RECOVERING, reason="Blood pressure too high."
    )

    assert correction_needed(session) is not None


def test_the_correction_is_new_ledger_entries_and_the_balance_stays_right(
    nina,
    phil,
    given,
    lot,  # noqa: F811
):
    session = stop_early(nina, given)
    lot.refresh_from_db()
    before = lot.balance_mg
    administered = LedgerEntry.objects.get(session=session, kind=LedgerEntryKind.ADMINISTERED)

    correction = correct(nina, session, phil)

    lot.refresh_from_db()
    assert lot.balance_mg == before == D("450")  # the drug left the lot either way
    assert lot_balance_from_entries(lot) == lot.balance_mg
    back, wasted = correction.correction_entry, correction.wasted_entry
    assert (back.kind, back.amount_mg, back.corrects) == (
        LedgerEntryKind.ADJUSTMENT,
        D("36.9"),
        administered,
    )
    assert (wasted.kind, wasted.amount_mg, wasted.witness, wasted.session) == (
        LedgerEntryKind.WASTED,
        D("-36.9"),
        phil,
        session,
    )
    administered.refresh_from_db()
    assert administered.amount_mg == D("-40")  # never edited
    # What the patient received: the dose entry and what corrects it.
    assert administered.amount_mg + back.amount_mg == D("-3.1")
    assert given_of(correction.administration) == D("3.1")
    assert correction_needed(session) is None
    assert discharge_blockers(session) == []


@pytest.mark.parametrize(
    "fields,field,message",
    [
        ({"given": "3.1", "wasted": "30"}, "wasted_mg", "must add up to the 40 mg"),
        ({"given": "-1", "wasted": "41"}, "given_mg", "cannot be negative"),
        ({"given": "abc", "wasted": "36.9"}, "given_mg", "number of mg"),
        ({"given": "40", "wasted": "0"}, "wasted_mg", "cannot be zero"),
        ({"given": "3.0001", "wasted": "36.9999"}, "given_mg", "at most 3 decimals"),
        ({"password": "wrong"}, "witness_password", ""),
    ],
)
def test_bad_input_is_refused_and_books_nothing(nina, phil, given, lot, fields, field, message):  # noqa: F811
    session = stop_early(nina, given)
    entries = LedgerEntry.objects.count()

    with pytest.raises(ValidationError) as error:
        correct(nina, session, phil, **fields)

    assert message in " ".join(error.value.message_dict[field])
    assert LedgerEntry.objects.count() == entries
    assert not DoseCorrection.objects.exists()


def test_it_needs_a_witness_who_is_not_the_nurse(nina, given):
    session = stop_early(nina, given)

    with pytest.raises(ValidationError) as error:
        correct(nina, session, None)

    assert "witness" in error.value.message_dict
    with pytest.raises(ValidationError):
        correct(nina, session, nina)
    assert not DoseCorrection.objects.exists()


def test_it_is_recorded_once(nina, phil, given):
    session = stop_early(nina, given)
    correct(nina, session, phil)

    with pytest.raises(ValidationError) as error:
        correct(nina, session, phil)

    assert "no dose to correct" in error.value.message_dict["session"][0]
    assert DoseCorrection.objects.count() == 1


def test_nothing_to_correct_while_the_infusion_runs(nina, phil, given):
    with pytest.raises(ValidationError):
        correct(nina, given, phil)


def test_the_database_keeps_the_correction_append_only(nina, phil, given):
    correction = correct(nina, stop_early(nina, given), phil)

    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE infusions_dosecorrection SET given_mg = 40 WHERE id = %s",
            [correction.pk],
        )
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM infusions_dosecorrection WHERE id = %s", [correction.pk])


def test_the_session_screen_asks_for_it_and_the_summary_shows_it(client, nina, phil, given):
    session = stop_early(nina, given)
    client.force_login(nina)
    screen = f"/staff/sessions/{session.public_id}/"

    html = client.get(screen).content.decode()
    assert 'data-testid="dose-correct-form"' in html
    summary = client.get(f"/staff/sessions/{session.public_id}/summary/").content.decode()
    assert 'data-testid="summary-correction-outstanding"' in summary

    response = client.post(
        f"/staff/sessions/{session.public_id}/dose/correct/",
        {
            "given_mg": "3.1",
            "wasted_mg": "36.9",
            "witness": str(phil.public_id),
            "witness_password": PASSWORD,
        },
    )

    assert response.status_code == 302
    summary = client.get(f"/staff/sessions/{session.public_id}/summary/").content.decode()
    assert "actually given 3.1 mg; 36.9 mg not given and wasted" in summary
    assert "summary-correction-outstanding" not in summary
    html = client.get(screen).content.decode()
    assert 'data-testid="dose-actually-given">3.1 mg' in html
    assert 'data-testid="dose-correct-form"' not in html


def test_the_page_shows_a_refusal_next_to_the_field(client, nina, phil, given):
    session = stop_early(nina, given)
    client.force_login(nina)

    response = client.post(
        f"/staff/sessions/{session.public_id}/dose/correct/",
        {"given_mg": "3.1", "wasted_mg": "3", "witness": str(phil.public_id)},
    )

    assert response.status_code == 400
    assert "must add up to the 40 mg" in response.content.decode()
    assert not DoseCorrection.objects.exists()


def test_the_front_desk_may_not_correct_a_dose(client, fran, nina, given):
    session = stop_early(nina, given)
    client.force_login(fran)

    response = client.post(f"/staff/sessions/{session.public_id}/dose/correct/", {})

    assert response.status_code == 403


def test_after_the_correction_every_given_on_the_session_page_is_what_was_really_given(
    client, nina, phil, given
):
    session = stop_early(nina, given)
    correct(nina, session, phil)
    client.force_login(nina)

    html = client.get(f"/staff/sessions/{session.public_id}/").content.decode()

    assert 'data-testid="dose-given">3.1 mg' in html
    assert 'data-testid="dose-history-given">3.1 mg' in html
    assert 'data-testid="dose-history-given">40' not in html


def test_the_dose_history_reads_the_correction_with_the_doses_in_one_query(
    nina, phil, given, django_assert_num_queries
):
    session = stop_early(nina, given)
    correct(nina, session, phil)
    patient = session.appointment.patient

    with django_assert_num_queries(1):
        (entry,) = dose_history(patient)
        assert entry.given_mg == D("3.1")
