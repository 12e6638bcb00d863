"""The curated drug list and the lorazepam-equivalence table (pure: no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from patients.medicines import (
    CATALOGUE,
    CATALOGUE_VERSION,
    EQUIVALENCE_SOURCE,
    AntidepressantClass,
    Drug,
    DrugClass,
    catalogue_fingerprint,
    drug_by_key,
    lorazepam_equivalent,
    search,
)

# The Ashton table, one row per listed benzodiazepine: mg about as strong as lorazepam
# 1 mg, a daily dose and what it comes to in mg of lorazepam.
ASHTON_ROWS = [
    ("alprazolam", "0.5", "3", "6.00"),
    ("chlordiazepoxide", "25", "50", "2.00"),
    ("clobazam", "20", "20", "1.00"),
    ("clonazepam", "0.5", "1", "2.00"),
    ("clorazepate", "15", "7.5", "0.50"),
    ("diazepam", "10", "30", "3.00"),
    ("lorazepam", "1", "2.5", "2.50"),
    ("oxazepam", "20", "45", "2.25"),
    ("quazepam", "20", "15", "0.75"),
    ("temazepam", "20", "30", "1.50"),
    ("triazolam", "0.5", "0.25", "0.50"),
]


@pytest.mark.parametrize(("key", "factor", "daily_mg", "lorazepam_mg"), ASHTON_ROWS)
def test_each_benzodiazepine_converts_by_its_row_of_the_table(
    key: str, factor: str, daily_mg: str, lorazepam_mg: str
) -> None:
    drug = drug_by_key(key)
    assert drug is not None
    assert drug.lorazepam_1mg_equivalent == Decimal(factor)
    # The table's own row: its equivalent dose is 1 mg of lorazepam.
    assert lorazepam_equivalent(drug, Decimal(factor)) == Decimal("1.00")
    result = lorazepam_equivalent(drug, Decimal(daily_mg))
    assert result == Decimal(lorazepam_mg)
    assert isinstance(result, Decimal)
    assert "Ashton" in drug.source


def test_every_benzodiazepine_with_a_factor_is_in_the_table_test() -> None:
    with_factor = {drug.key for drug in CATALOGUE if drug.lorazepam_1mg_equivalent is not None}
    assert with_factor == {row[0] for row in ASHTON_ROWS}


@pytest.mark.parametrize("key", ["estazolam", "flurazepam", "benzodiazepine_unknown"])
def test_a_benzodiazepine_without_a_single_factor_gives_no_equivalent(key: str) -> None:
    drug = drug_by_key(key)
    assert drug is not None
    assert drug.drug_class is DrugClass.BENZODIAZEPINE
    assert lorazepam_equivalent(drug, Decimal(2)) is None


def test_it_rounds_half_up_to_a_hundredth_of_a_mg() -> None:
    clorazepate = drug_by_key("clorazepate")
    assert clorazepate is not None
    assert lorazepam_equivalent(clorazepate, Decimal("31")) == Decimal("2.07")
    assert lorazepam_equivalent(clorazepate, Decimal("0")) == Decimal("0.00")


@pytest.mark.parametrize("dose", [Decimal("-1"), Decimal("NaN"), Decimal("Infinity"), 2.0, 2])
def test_it_refuses_a_dose_that_is_not_a_decimal_of_0_or_more(dose: object) -> None:
    alprazolam = drug_by_key("alprazolam")
    assert alprazolam is not None
    with pytest.raises(ValueError, match="daily dose"):
        lorazepam_equivalent(alprazolam, dose)  # type: ignore[arg-type]


def test_it_refuses_to_convert_a_drug_that_is_not_a_benzodiazepine() -> None:
    sertraline = drug_by_key("sertraline")
    assert sertraline is not None
    with pytest.raises(ValueError, match="not a benzodiazepine"):
        lorazepam_equivalent(sertraline, Decimal(50))


def test_the_source_is_cited() -> None:
    assert "Ashton" in EQUIVALENCE_SOURCE
    assert "benzo.org.uk/bzequiv" in EQUIVALENCE_SOURCE


@pytest.mark.parametrize(
    ("key", "drug_class", "antidepressant_class"),
    [
        ("phenelzine", DrugClass.MAOI, AntidepressantClass.MAOI),
        ("selegiline_patch", DrugClass.MAOI, AntidepressantClass.MAOI),
        ("lamotrigine", DrugClass.LAMOTRIGINE, None),
        ("lisdexamfetamine", DrugClass.STIMULANT, None),
        ("oxycodone", DrugClass.OPIOID, None),
        ("gabapentin", DrugClass.OTHER_CNS_DEPRESSANT, None),
        ("sertraline", DrugClass.ANTIDEPRESSANT, AntidepressantClass.SSRI),
        ("duloxetine", DrugClass.ANTIDEPRESSANT, AntidepressantClass.SNRI),
        ("nortriptyline", DrugClass.ANTIDEPRESSANT, AntidepressantClass.TCA),
        ("bupropion", DrugClass.ANTIDEPRESSANT, AntidepressantClass.ATYPICAL),
        ("quetiapine", DrugClass.ANTIPSYCHOTIC, None),
        ("lithium", DrugClass.MOOD_STABILISER, None),
    ],
)
def test_drugs_belong_to_their_class(
    key: str, drug_class: DrugClass, antidepressant_class: AntidepressantClass | None
) -> None:
    drug = drug_by_key(key)
    assert drug is not None
    assert drug.drug_class is drug_class
    assert drug.antidepressant_class is antidepressant_class
    assert drug.is_antidepressant is (antidepressant_class is not None)


def test_every_class_has_a_drug_and_every_drug_a_source() -> None:
    assert {drug.drug_class for drug in CATALOGUE} == set(DrugClass)
    assert all(drug.source for drug in CATALOGUE)


def test_it_finds_a_drug_by_brand_or_generic_name_whatever_the_case() -> None:
    assert [drug.key for drug in search("XANAX")] == ["alprazolam"]
    assert [drug.key for drug in search("vyv")] == ["lisdexamfetamine"]
    assert "lorazepam" in [drug.key for drug in search("Ativán")]


def test_names_that_start_with_the_search_come_first_then_alphabetically() -> None:
    # Only Pamelor (nortriptyline) starts with "pam"; the -pams contain it.
    assert [drug.key for drug in search("pam")] == [
        "nortriptyline",
        "clonazepam",
        "diazepam",
        "flurazepam",
        "lorazepam",
        "oxazepam",
        "quazepam",
        "temazepam",
    ]
    assert len(search("pam", limit=3)) == 3


def test_a_search_of_one_letter_finds_nothing() -> None:
    assert search("a") == []
    assert search("  ") == []


def test_an_unknown_key_is_no_drug() -> None:
    assert drug_by_key("not-a-drug") is None


def test_a_drug_is_shown_with_its_brands_and_class() -> None:
    alprazolam = drug_by_key("alprazolam")
    sertraline = drug_by_key("sertraline")
    assert alprazolam is not None and sertraline is not None
    assert alprazolam.name == "alprazolam (Xanax)"
    assert alprazolam.class_label == "Benzodiazepine"
    assert sertraline.class_label == "Antidepressant (SSRI)"


def test_the_list_refuses_inconsistent_rows() -> None:
    with pytest.raises(ValueError, match="lorazepam factor"):
        Drug("x", "x", (), DrugClass.OPIOID, lorazepam_1mg_equivalent=Decimal(1))
    with pytest.raises(ValueError, match="which class of antidepressant"):
        Drug("x", "x", (), DrugClass.ANTIDEPRESSANT)
    with pytest.raises(ValueError, match="above 0"):
        Drug("x", "x", (), DrugClass.BENZODIAZEPINE, lorazepam_1mg_equivalent=Decimal(0))


# What the list means for the screening is pinned to its version: change a class or a
# factor and this fails until CATALOGUE_VERSION (and the rules' version) is bumped.
CATALOGUE_14d23730cf55c0b002dbd4c69d06bc4d37257fb2019acfb4ae01325b08019821S = {
    "2026.12-1": "14d23730cf55c0b002dbd4c69d06bc4d37257fb2019acfb4ae01325b08019821",
}


def test_the_catalogue_fingerprint_is_pinned_to_its_version() -> None:
    assert (
        CATALOGUE_14d23730cf55c0b002dbd4c69d06bc4d37257fb2019acfb4ae01325b08019821S.get(
            CATALOGUE_VERSION
        )
        == catalogue_fingerprint()
    ), (
        "The drug list's classes or factors changed: bump CATALOGUE_VERSION and "
        "RULESET_VERSION, and pin the new fingerprint here."
    )
