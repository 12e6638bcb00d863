"""The outcomes dashboard's figures on a varied clinic, pinned.

The data set is drawn from a seeded random generator so it holds the awkward cases the
rules have to get right (several courses, ties in time, scores at the very moment of the
first infusion, infusions booked but never started, instruments the dashboard does not
know, patients in several groups or none, no location at all). The expected figures in
``dashboard_pinned.json`` were written by the dashboard as it was before it was rewritten
as set-based queries (issue 14); the rewrite must give the same numbers and the same
patients, in the same order.

To rewrite the file after a deliberate change of the rules:
``PIN_OUTCOMES=write pytest outcomes/tests/test_dashboard_pinned.py``, then read the diff.
"""

from __future__ import annotations

import json
import os
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from clinic.conditions import Condition
from clinic.models import Location
from infusions.models import InfusionSession
from outcomes.dashboard import LISTED, clinic_outcomes, flagged_patients
from outcomes.facts import outcome_facts_refresh
from outcomes.models import PatientOutcomeFacts
from outcomes.scores import patient_outcomes
from outcomes.tests.test_outcomes import course, infusion, score
from patients.models import Patient, QuestionnaireResponse
from patients.questionnaires import definition_for
from patients.tests.factories import PatientFactory
from scheduling.models import TreatmentCourse
from scheduling.tests.factories import LocationFactory

PINNED = Path(__file__).with_name("dashboard_pinned.json")
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
INSTRUMENTS = ("phq9", "gad7", "pcl5", "pain_nrs")
COURSE_STATES = ("planned", "induction", "maintenance", "completed", "discontinued")


def at(days_ago: int, *, morning: bool = False) -> datetime:
    """15:00 UTC ``days_ago`` days before NOW (infusions start then), or 09:00."""
    return NOW - timedelta(days=days_ago, hours=6 if morning else 0)


def build_clinic(patients: int = 90, seed: int = 14) -> dict[str, Any]:
    rng = random.Random(seed)
    locations = [
        LocationFactory(name="Riverside"),
        LocationFactory(name="Harbor"),
        LocationFactory(name="Lakeside"),
    ]
    conditions = [condition.value for condition in Condition]
    labels: dict[int, str] = {}
    for n in range(patients):
        patient = PatientFactory(
            # Few names, so the list order falls back on the id often.
            legal_first_name=rng.choice(["Ana", "Ben", "Cy"]),
            legal_last_name=rng.choice(["Ng", "Okafor", "Silva"]),
            preferred_name=rng.choice(["", "", "", "Al"]),
            conditions=rng.sample(conditions, rng.choice([0, 1, 1, 2, 3])),
            preferred_location=rng.choice([None, *locations]),
        )
        labels[patient.pk] = f"p{n:02d}"
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            treatment = course(patient, rng.choice(locations), rng.choice(COURSE_STATES))
            # Few distinct times, so two courses of a patient are often created together.
            treatment.created_at = at(rng.choice([5, 10, 10, 40, 100]))
            treatment.save(update_fields=["created_at"])
        infusion_days = rng.sample(range(1, 120), rng.choice([0, 1, 1, 2, 3]))
        for days_ago in infusion_days:
            infusion(patient, rng.choice(locations), at(days_ago), started=rng.random() < 0.8)
        answers_questionnaires = rng.random() < 0.85
        quiet_for = rng.choice([0, 0, 0, 25, 30, 60])  # days since the last questionnaire
        for instrument in (*INSTRUMENTS, "whooley"):
            if not answers_questionnaires or rng.random() < 0.35:
                continue
            for _ in range(rng.randint(1, 6)):
                # Often on an infusion's day, at its very start; sometimes on the overdue
                # boundary (30 days); twice at the same moment now and then.
                days_ago = rng.choice([*infusion_days, 30, *range(0, 150, 3)])
                days_ago = max(days_ago, quiet_for)
                completed_at = at(days_ago, morning=rng.random() < 0.3)
                if instrument == "whooley":  # an instrument the outcomes do not judge
                    QuestionnaireResponse.objects.create(
                        patient=patient,
                        instrument=instrument,
                        answers={},
                        total=1,
                        band="",
                        completed_at=completed_at,
                    )
                    continue
                top = definition_for(instrument).max_total
                total = rng.choice(
                    [0, rng.randint(0, top // 4), rng.randint(0, top), rng.randint(top // 3, top)]
                )
                score(patient, instrument, total, completed_at)
    return {"labels": labels, "locations": {location.name: location for location in locations}}


def filter_sets(locations: dict[str, Location]) -> dict[str, dict[str, Any]]:
    sets: dict[str, dict[str, Any]] = {"everyone": {}}
    for name, location in locations.items():
        sets[f"location={name}"] = {"location": location}
    for group in ("depression", "anxiety", "ptsd", "pain"):
        sets[f"condition={group}"] = {"condition": group}
    sets["location=Riverside&condition=depression"] = {
        "location": locations["Riverside"],
        "condition": "depression",
    }
    sets["location=Harbor&condition=pain"] = {"location": locations["Harbor"], "condition": "pain"}
    return sets


def every_page(user: Any, flag: str, filters: dict[str, Any]) -> list[Any]:
    """Everyone on the list ``flag``, read a page of 7 at a time."""
    listed, number = [], 1
    while True:
        found = flagged_patients(user, flag, page=number, now=NOW, per_page=7, **filters)
        listed += found.page.object_list
        if not found.page.has_next():
            return listed
        number += 1


def figures(user: Any, labels: dict[int, str], **filters: Any) -> dict[str, Any]:
    """What the dashboard says for ``filters``, in plain JSON terms: the table, and the
    full lists of who worsened and who is overdue, read page by page (the dashboard
    itself lists the first few of each, the same)."""
    dashboard = clinic_outcomes(user, now=NOW, **filters)
    worsened, overdue = every_page(user, "worsened", filters), every_page(user, "overdue", filters)
    assert dashboard.worsened == worsened[: len(dashboard.worsened)]
    assert dashboard.overdue == overdue[: len(dashboard.overdue)]
    assert len(dashboard.worsened) == min(LISTED, len(worsened))
    assert len(dashboard.overdue) == min(LISTED, len(overdue))

    def place(location: Location | None) -> str | None:
        return location.name if location is not None else None

    def when(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment is not None else None

    return {
        "patient_count": dashboard.patient_count,
        "worsened_count": dashboard.worsened_count,
        "overdue_count": dashboard.overdue_count,
        "rows": [
            {
                "group": row.group.key,
                "location": place(row.location),
                "patients": row.patients,
                "in_induction": row.in_induction,
                "in_maintenance": row.in_maintenance,
                "response": [row.response.count, row.response.n],
                "remission": (
                    [row.remission.count, row.remission.n] if row.remission is not None else None
                ),
                "overdue": row.overdue,
            }
            for row in dashboard.rows
        ],
        "worsened": [
            {
                "patient": labels[flagged.patient.pk],
                "name": flagged.patient.display_name,
                "location": place(flagged.location),
                "last_questionnaire_at": when(flagged.last_questionnaire_at),
                "reasons": [
                    [outcome.instrument.value, list(outcome.worsened_reasons)]
                    for outcome in flagged.outcomes
                ],
            }
            for flagged in worsened
        ],
        "overdue": [
            {
                "patient": labels[flagged.patient.pk],
                "name": flagged.patient.display_name,
                "location": place(flagged.location),
                "last_questionnaire_at": when(flagged.last_questionnaire_at),
            }
            for flagged in overdue
        ],
    }


def test_the_dashboard_gives_the_pinned_figures_for_every_filter(db, nina, alice):
    clinic = build_clinic()
    outcome_facts_refresh()  # as the worker does every few minutes
    sets = filter_sets(clinic["locations"])

    actual = {name: figures(nina, clinic["labels"], **filters) for name, filters in sets.items()}
    admin = {name: clinic_outcomes(alice, now=NOW, **filters) for name, filters in sets.items()}

    if os.environ.get("PIN_OUTCOMES") == "write":
        PINNED.write_text(json.dumps(actual, indent=1, ensure_ascii=False) + "\n")
    expected = json.loads(PINNED.read_text())
    assert set(actual) == set(expected)
    for name in expected:
        assert actual[name] == expected[name], f"the figures for {name} changed"
        # A clinic admin gets the same figures and counts, and nobody's name.
        assert admin[name].rows == clinic_outcomes(nina, now=NOW, **sets[name]).rows
        assert admin[name].worsened_count == expected[name]["worsened_count"]
        assert admin[name].overdue_count == expected[name]["overdue_count"]
        assert admin[name].worsened == [] and admin[name].overdue == []


def test_the_pinned_data_set_holds_every_case_it_is_there_for():
    everyone = json.loads(PINNED.read_text())["everyone"]

    # Not a test of the dashboard: a check that the seed still makes a varied clinic.
    assert everyone["worsened_count"] >= 5 and everyone["overdue_count"] >= 5
    assert any(row["location"] is None for row in everyone["rows"])
    assert any(row["response"][0] > 0 for row in everyone["rows"])
    assert any(row["remission"] and row["remission"][0] > 0 for row in everyone["rows"])
    assert any(len(flagged["reasons"]) > 1 for flagged in everyone["worsened"])
    assert any(flagged["last_questionnaire_at"] is None for flagged in everyone["overdue"])


def test_the_counted_facts_agree_with_the_rules_for_one_patient(db):
    """outcomes.facts writes the rules of outcomes.scores again, in SQL: patient by
    patient, the facts it counts are what ``patient_outcomes`` says."""
    build_clinic()
    outcome_facts_refresh()
    stored = {facts.patient_id: facts for facts in PatientOutcomeFacts.objects.all()}
    active = ("induction", "maintenance")
    disagreements = []

    for patient in Patient.objects.all():
        outcomes = patient_outcomes(patient)
        scores = QuestionnaireResponse.objects.filter(patient=patient)
        starts = InfusionSession.objects.filter(
            appointment__patient=patient, started_at__isnull=False
        ).values_list("started_at", flat=True)
        courses = sorted(
            TreatmentCourse.objects.filter(patient=patient),
            key=lambda c: (c.state in active, c.created_at, c.id),
            reverse=True,
        )
        expected = {
            "course_location_id": courses[0].location_id if courses else None,
            "course_state": courses[0].state if courses and courses[0].state in active else "",
            "first_infusion_at": min(starts, default=None),
            "last_questionnaire_at": max((s.completed_at for s in scores), default=None),
            "worsened": any(outcome.worsened for outcome in outcomes),
            "judged": sorted(o.instrument.value for o in outcomes if o.has_follow_up),
            "responded": sorted(
                o.instrument.value for o in outcomes if o.has_follow_up and o.response
            ),
            "remitted": sorted(
                o.instrument.value for o in outcomes if o.has_follow_up and o.remission
            ),
        }
        facts = stored.get(patient.pk)
        if facts is None:
            counted = {
                "course_location_id": None,
                "course_state": "",
                "first_infusion_at": None,
                "last_questionnaire_at": None,
                "worsened": False,
                "judged": [],
                "responded": [],
                "remitted": [],
            }
        else:
            counted = {name: getattr(facts, name) for name in expected}
        if counted != expected:
            disagreements.append((patient.pk, counted, expected))

    assert disagreements == []
