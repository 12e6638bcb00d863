"""From intake answers, as a patient would give them, to the screening outcome and its
findings: through the real intake form (the staff page, with its medication rows),
``intake_submit`` and ``facts_from``, not only the pure engine."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from patients.models import ScreeningResult, SexAtBirth
from patients.tests.factories import (
    MeasurementFactory,
    PatientFactory,
    QuestionnaireResponseFactory,
)
from patients.tests.test_intake import complete_answers, form_data


@pytest.fixture
def patient(db):
    patient = PatientFactory(sex_at_birth=SexAtBirth.FEMALE, date_of_birth=date(1980, 1, 1))
    MeasurementFactory(patient=patient, systolic=120, diastolic=80)
    QuestionnaireResponseFactory(
        patient=patient, answers={f"q{n}": 2 for n in range(1, 9)} | {"q9": 0}
    )
    return patient


def medicine(name: str, strength: str = "", units: str = "1", how_often: str = "", **more: str):
    return {
        "name": name,
        "strength_mg": strength,
        "units_each_time": units,
        "frequency": how_often,
        "status": "current",
    } | more


def screen_intake(client, nina, patient, medicines: list[dict[str, str]], **answers: Any):
    takes = any(fields.get("status") == "current" for fields in medicines)
    data = form_data(complete_answers(takes_medicines="yes" if takes else "no", **answers))
    data |= {"med-TOTAL_FORMS": str(len(medicines)), "med-INITIAL_FORMS": "0"}
    for index, fields in enumerate(medicines):
        data |= {f"med-{index}-{name}": value for name, value in fields.items()}
    client.force_login(nina)
    response = client.post(f"/staff/patients/{patient.public_id}/intake/new/", data)
    assert response.status_code == 302, response.context["medicines"].errors
    return ScreeningResult.objects.filter(patient=patient).latest("created_at")


def findings_of(result: ScreeningResult) -> dict[str, dict[str, Any]]:
    return {finding["rule_id"]: finding for finding in result.findings}


# (medicines as entered, outcome, the finding expected, its value, the daily load fact)
CASES = [
    pytest.param(
        [medicine("Xanax", "1.5", how_often="twice_daily")],
        "review",
        "meds.benzodiazepine",
        "6 mg lorazepam-equivalent a day",
        "6",
        id="alprazolam 1.5 mg twice a day: 6 mg lorazepam, review",
    ),
    pytest.param(
        [medicine("clonazepam", "0.5", how_often="twice_daily")],
        "eligible",
        None,
        None,
        "2",
        id="clonazepam 0.5 mg twice a day: 2 mg lorazepam, at the limit, eligible",
    ),
    pytest.param(
        [medicine("Valium", "10", units="3", how_often="once_daily")],
        "review",
        "meds.benzodiazepine",
        "3 mg lorazepam-equivalent a day",
        "3",
        id="diazepam 30 mg a day: 3 mg lorazepam, review",
    ),
    pytest.param(
        [medicine("a benzodiazepine (not sure which)")],
        "review",
        "missing.benzodiazepine_dose",
        "not recorded",
        None,
        id="an unknown benzodiazepine without a dose: missing fact, review",
    ),
    pytest.param(
        [medicine("lorazepam", "1", how_often="when_needed")],
        "review",
        "missing.benzodiazepine_dose",
        "not recorded",
        None,
        id="lorazepam only when needed: no daily load, missing fact, review",
    ),
    pytest.param(
        [medicine("Nardil", "15", how_often="three_times_daily")],
        "review",
        "meds.maoi",
        "phenelzine (Nardil)",
        "0",
        id="phenelzine: MAOI, review",
    ),
    pytest.param(
        [medicine("lamotrigine", "100", how_often="once_daily")],
        "eligible",
        "meds.lamotrigine",
        "lamotrigine (Lamictal)",
        "0",
        id="lamotrigine: note",
    ),
    pytest.param(
        [medicine("Vyvanse", "30", how_often="once_daily")],
        "eligible",
        "meds.stimulant",
        "lisdexamfetamine (Vyvanse)",
        "0",
        id="lisdexamfetamine: note",
    ),
    pytest.param(
        [medicine("OxyContin", "10", how_often="twice_daily")],
        "eligible",
        "meds.cns_depressant",
        "oxycodone (OxyContin, Percocet, Roxicodone), an opioid",
        "0",
        id="oxycodone: an opioid, note",
    ),
    pytest.param(
        [medicine("Xanax", "1.5", how_often="twice_daily", status="stopped")],
        "eligible",
        None,
        None,
        "0",
        id="a benzodiazepine stopped: no load",
    ),
    pytest.param(
        [medicine("my herbal tea")],
        "eligible",
        None,
        None,
        "0",
        id="a medicine not on the list: shown, not screened",
    ),
]


@pytest.mark.parametrize(("medicines", "outcome", "rule_id", "value", "load"), CASES)
def test_the_medication_list_decides_the_medicine_findings(
    client, nina, patient, medicines, outcome, rule_id, value, load
):
    result = screen_intake(client, nina, patient, medicines)

    assert result.outcome == outcome, result.findings
    found = findings_of(result)
    medicine_rules = {r for r in found if r.startswith(("meds.", "missing.benzo", "missing.m"))}
    assert medicine_rules == ({rule_id} if rule_id else set())
    if rule_id:
        assert found[rule_id]["value"] == value
    assert result.facts["benzodiazepine_lorazepam_mg"] == load


def test_a_benzodiazepine_finding_names_each_medicine_and_its_share(client, nina, patient):
    result = screen_intake(
        client,
        nina,
        patient,
        [
            medicine("Xanax", "0.5", how_often="twice_daily"),
            medicine("temazepam", "20", how_often="at_night"),
        ],
    )

    finding = findings_of(result)["meds.benzodiazepine"]
    assert finding["value"] == "3 mg lorazepam-equivalent a day"
    assert "alprazolam (Xanax) 1 mg a day = 2 mg lorazepam" in finding["reason"]
    assert "temazepam (Restoril) 20 mg a day = 1 mg lorazepam" in finding["reason"]


def test_a_missing_dose_says_which_medicine_and_what_is_missing(client, nina, patient):
    result = screen_intake(
        client,
        nina,
        patient,
        [medicine("clonazepam", "0.5", how_often="twice_daily"), medicine("Klonopin")],
    )

    finding = findings_of(result)["missing.benzodiazepine_dose"]
    assert finding["missing"] is True
    assert finding["severity"] == "review"
    assert finding["reason"].endswith(
        "From the medication list: clonazepam (Klonopin): its strength is not given."
    )
    assert result.facts["benzodiazepine_lorazepam_mg"] is None


def test_no_medicines_now_is_none_for_every_medicine_fact(client, nina, patient):
    result = screen_intake(client, nina, patient, [])

    assert result.outcome == "eligible"
    assert result.findings == []
    assert result.facts["maoi"] is False
    assert result.facts["benzodiazepine_lorazepam_mg"] == "0"


def test_the_chart_shows_which_medicine_raised_which_finding(client, nina, patient):
    screen_intake(client, nina, patient, [medicine("Nardil", "15", how_often="once_daily")])

    page = client.get(f"/staff/patients/{patient.public_id}/")

    assert "meds.maoi" in page.text
    assert "phenelzine (Nardil)" in page.text
