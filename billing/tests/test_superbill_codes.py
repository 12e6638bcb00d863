"""The superbill's rules: the units an infusion bills by the CPT time rules, the NPI's check
digit and the EIN's form, and the admins' edits to the codes (checked, audited, refused for
anyone else)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from hypothesis import given
from hypothesis import strategies as st

from billing.codes import (
    VisitFacts,
    diagnosis_code_set,
    infusion_additional_hour_units,
    infusion_first_hour_units,
    normalised_ein,
    npi_problem,
    practice_details_set,
    practice_for,
    service_code_save,
    units_for,
)
from billing.models import DiagnosisCode, PracticeDetails, ServiceCode, UnitsRule
from clinic.models import AuditEvent
from scheduling.tests.factories import LocationFactory, appointment_type


@pytest.mark.parametrize(
    ("minutes", "first_hour", "additional_hours"),
    [
        (0, 0, 0),
        (15, 0, 0),  # 15 minutes or less is a push, not an infusion
        (16, 1, 0),
        (40, 1, 0),
        (60, 1, 0),
        (90, 1, 0),  # 30 minutes past the hour is not more than 30
        (91, 1, 1),
        (100, 1, 1),
        (150, 1, 1),
        (151, 1, 2),
        (210, 1, 2),
        (211, 1, 3),
    ],
)
def test_an_infusion_bills_its_first_hour_then_each_hour_past_thirty_minutes(
    minutes, first_hour, additional_hours
):
    facts = VisitFacts(infusion_minutes=minutes)
    assert infusion_first_hour_units(minutes) == first_hour
    assert infusion_additional_hour_units(minutes) == additional_hours
    assert units_for(UnitsRule.INFUSION_FIRST_HOUR, facts) == first_hour
    assert units_for(UnitsRule.INFUSION_ADDITIONAL_HOUR, facts) == additional_hours


def test_the_other_rules_count_visits_questionnaires_and_the_drug():
    facts = VisitFacts(infusion_minutes=40, scored_questionnaires=3, drug_given=True)
    assert units_for(UnitsRule.PER_VISIT, facts) == 1
    assert units_for(UnitsRule.PER_SCORED_QUESTIONNAIRE, facts) == 3
    assert units_for(UnitsRule.PER_DRUG_GIVEN, facts) == 1
    assert units_for(UnitsRule.PER_DRUG_GIVEN, VisitFacts()) == 0


@pytest.mark.parametrize("npi", ["1234567893", "1245319599", "2000000002"])
def test_a_good_npi_passes_its_check_digit(npi):
    assert npi_problem(npi) is None


@pytest.mark.parametrize(
    ("npi", "message"),
    [
        ("1234567890", "last digit does not match"),
        ("123456789", "10 digits"),
        ("12345678A3", "10 digits"),
        ("3234567893", "starts with 1"),
    ],
)
def test_a_bad_npi_says_what_is_wrong(npi, message):
    assert message in npi_problem(npi)


def test_an_ein_is_read_with_or_without_its_dash():
    assert normalised_ein("12-3456789") == "12-3456789"
    assert normalised_ein(" 123456789 ") == "12-3456789"
    for bad in ("1-23456789", "12-345678", "AB-1234567", "00-1234567"):
        with pytest.raises(ValueError, match="EIN"):
            normalised_ein(bad)


@pytest.mark.django_db
def test_the_defaults_code_each_kind_of_visit_and_the_conditions_domain_names():
    infusion = ServiceCode.objects.filter(appointment_type=appointment_type("infusion"))
    assert [(c.code, c.units_rule, c.is_active) for c in infusion] == [
        ("96365", "infusion_first_hour", True),
        ("96366", "infusion_additional_hour", True),
        ("96127", "per_scored_questionnaire", True),
        ("J3490", "per_drug_given", False),
    ]
    consultation = ServiceCode.objects.filter(appointment_type=appointment_type("consultation"))
    assert [c.code for c in consultation] == ["99204", "96127"]
    assert dict(DiagnosisCode.objects.values_list("condition", "code")) == {
        "trd": "F33.2",
        "mdd": "F32.2",
        "bipolar_depression": "F31.9",
        "anxiety": "F41.1",
        "ptsd": "F43.10",
        "ocd": "F42.2",
        "crps": "G90.50",
        "fibromyalgia": "M79.7",
        "migraine": "G43.909",
        "suicidal_ideation": "R45.851",
    }
    assert PracticeDetails.objects.get(location=None).place_of_service == "11"


@pytest.mark.django_db
def test_alice_sets_the_practice_details_and_a_location_overrides_them(alice):
    riverside = LocationFactory()
    practice_details_set(
        actor=alice,
        location=None,
        practice_name="Calm Waters Infusions",
        npi="1234567893",
        tax_id="123456789",
        place_of_service="11",
    )
    own = practice_details_set(actor=alice, location=riverside, place_of_service="22")

    clinic = PracticeDetails.objects.get(location=None)
    assert (clinic.npi, clinic.tax_id) == ("1234567893", "12-3456789")
    assert own.place_of_service == "22" and own.npi == ""
    assert AuditEvent.objects.filter(object_type="billing.practicedetails").count() == 2


@pytest.mark.django_db
def test_bad_practice_details_say_what_to_fix_and_change_nothing(alice):
    with pytest.raises(ValidationError) as caught:
        practice_details_set(
            actor=alice, location=None, npi="1234567890", tax_id="12-34", place_of_service="99"
        )
    errors = caught.value.message_dict
    assert "check digit" in errors["npi"][0]
    assert "NN-NNNNNNN" in errors["tax_id"][0]
    assert "from the list" in errors["place_of_service"][0]
    assert PracticeDetails.objects.get(location=None).npi == ""


@pytest.mark.django_db
def test_only_a_clinic_admin_edits_the_codes(fran, nina):
    for someone in (fran, nina):
        with pytest.raises(PermissionDenied):
            practice_details_set(actor=someone, location=None, npi="1234567893")
        with pytest.raises(PermissionDenied):
            diagnosis_code_set(actor=someone, condition="trd", code="F33.1", description="x")


@pytest.mark.django_db
def test_alice_adds_a_service_code_and_a_bad_one_is_refused(alice):
    kind = appointment_type("follow_up")
    added = service_code_save(
        actor=alice,
        appointment_type=kind,
        code="99215",
        description="Office visit, established patient (high complexity)",
        units_rule="per_visit",
        position=2,
    )
    assert added.code == "99215"
    with pytest.raises(ValidationError) as caught:
        service_code_save(
            actor=alice, appointment_type=kind, code="9921", description="", units_rule="x"
        )
    assert set(caught.value.message_dict) == {"code", "description", "units_rule"}
    with pytest.raises(ValidationError, match="already has 99214"):
        service_code_save(
            actor=alice,
            appointment_type=kind,
            code="99214",
            description="d",
            units_rule="per_visit",
        )


@pytest.mark.django_db
def test_alice_recodes_a_condition_and_clears_one(alice):
    diagnosis_code_set(
        actor=alice,
        condition="trd",
        code="f33.1",
        description="Major depressive disorder, recurrent, moderate",
    )
    assert DiagnosisCode.objects.get(condition="trd").code == "F33.1"
    diagnosis_code_set(actor=alice, condition="migraine", code="", description="")
    assert not DiagnosisCode.objects.filter(condition="migraine").exists()
    with pytest.raises(ValidationError, match="ICD-10-CM"):
        diagnosis_code_set(actor=alice, condition="trd", code="F3", description="d")


@given(minutes=st.integers(min_value=0, max_value=24 * 60))
def test_the_hours_billed_never_leave_more_than_30_minutes_unbilled_nor_bill_an_hour_short(
    minutes,
):
    first = infusion_first_hour_units(minutes)
    additional = infusion_additional_hour_units(minutes)
    billed_minutes = 60 * (first + additional)
    if minutes > 15:
        assert first == 1
        # Every hour billed after the first had more than 30 minutes of it run ...
        assert additional == 0 or minutes > 60 * additional + 30
        # ... and no more than 30 minutes past the last billed hour go unbilled.
        assert minutes - billed_minutes <= 30
    else:
        assert (first, additional) == (0, 0)


@pytest.mark.django_db
def test_a_location_takes_the_clinic_details_it_does_not_set_and_is_told_what_is_missing():
    riverside = LocationFactory()
    clinic = PracticeDetails(location=None, practice_name="Calm Waters", npi="1234567893")
    own = PracticeDetails(location=riverside, address="PO Box 7\nAlbany NY 12207")

    practice = practice_for(riverside, [clinic, own], clinic_name="Chairside")
    bare = practice_for(riverside, [], clinic_name="Chairside")

    assert practice.name == "Calm Waters" and practice.npi == "1234567893"
    assert practice.address_lines == ["PO Box 7", "Albany NY 12207"]
    assert practice.missing_text == "tax id (EIN) and place of service"
    assert bare.name == "Chairside" and bare.address_lines == riverside.address_lines
    assert bare.missing_text == "NPI, tax id (EIN) and place of service"
