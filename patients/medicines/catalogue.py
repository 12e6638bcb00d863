"""The curated drug list: the medicines the screening cares about, by generic and brand
name, with the class each belongs to and where that comes from.

Not a formulary: it lists what changes a ketamine screening (benzodiazepines, MAOIs,
lamotrigine, stimulants, opioids, other CNS depressants) and what staff want to see at
the consultation (antidepressants by class, antipsychotics, mood stabilisers). Anything
else a patient takes is entered as free text ("other") and is shown, not screened.

Classes follow each drug's US label (DailyMed, the FDA's published labelling). The
benzodiazepine equivalence factors are the Ashton table's, see ``benzodiazepines``.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

CATALOGUE_VERSION = "2026.12-1"

LABEL_SOURCE = "US prescribing label (DailyMed, US National Library of Medicine)"
ASHTON_SOURCE = (
    "Ashton CH, Benzodiazepines: How They Work and How to Withdraw (the Ashton Manual), "
    "2002, Table 1; Benzodiazepine Equivalence Table, revised April 2007, "
    "https://www.benzo.org.uk/bzequiv.htm"
)


class DrugClass(StrEnum):
    """What the screening and the consultation look at, one class per drug."""

    BENZODIAZEPINE = "benzodiazepine"
    MAOI = "maoi"
    LAMOTRIGINE = "lamotrigine"
    STIMULANT = "stimulant"
    OPIOID = "opioid"
    OTHER_CNS_DEPRESSANT = "other_cns_depressant"
    ANTIDEPRESSANT = "antidepressant"
    ANTIPSYCHOTIC = "antipsychotic"
    MOOD_STABILISER = "mood_stabiliser"

    @property
    def label(self) -> str:
        return _CLASS_LABELS[self]


_CLASS_LABELS = {
    DrugClass.BENZODIAZEPINE: "Benzodiazepine",
    DrugClass.MAOI: "MAOI antidepressant",
    DrugClass.LAMOTRIGINE: "Lamotrigine",
    DrugClass.STIMULANT: "Stimulant",
    DrugClass.OPIOID: "Opioid",
    DrugClass.OTHER_CNS_DEPRESSANT: "Other CNS depressant",
    DrugClass.ANTIDEPRESSANT: "Antidepressant",
    DrugClass.ANTIPSYCHOTIC: "Antipsychotic",
    DrugClass.MOOD_STABILISER: "Mood stabiliser",
}


class AntidepressantClass(StrEnum):
    SSRI = "ssri"
    SNRI = "snri"
    TCA = "tca"
    MAOI = "maoi"
    ATYPICAL = "atypical"

    @property
    def label(self) -> str:
        return _ANTIDEPRESSANT_LABELS[self]


_ANTIDEPRESSANT_LABELS = {
    AntidepressantClass.SSRI: "SSRI",
    AntidepressantClass.SNRI: "SNRI",
    AntidepressantClass.TCA: "tricyclic",
    AntidepressantClass.MAOI: "MAOI",
    AntidepressantClass.ATYPICAL: "atypical antidepressant",
}


@dataclass(frozen=True)
class Drug:
    """One medicine on the list.

    ``lorazepam_1mg_equivalent`` is, for a benzodiazepine, how many mg of it are about
    as strong as 1 mg of lorazepam (``None`` when the table gives only a range, or for
    "a benzodiazepine, not sure which": the physician must estimate, so the screening
    reports it as a missing fact). ``antidepressant_class`` is set for every
    antidepressant, MAOIs included.
    """

    key: str
    generic: str
    brands: tuple[str, ...]
    drug_class: DrugClass
    source: str = LABEL_SOURCE
    antidepressant_class: AntidepressantClass | None = None
    lorazepam_1mg_equivalent: Decimal | None = None

    def __post_init__(self) -> None:
        if self.antidepressant_class is not None and self.drug_class not in (
            DrugClass.ANTIDEPRESSANT,
            DrugClass.MAOI,
        ):
            raise ValueError(f"{self.key}: only antidepressants have an antidepressant class.")
        if self.drug_class is DrugClass.ANTIDEPRESSANT and self.antidepressant_class is None:
            raise ValueError(f"{self.key}: say which class of antidepressant it is.")
        factor = self.lorazepam_1mg_equivalent
        if factor is not None:
            if self.drug_class is not DrugClass.BENZODIAZEPINE:
                raise ValueError(f"{self.key}: only benzodiazepines have a lorazepam factor.")
            if not isinstance(factor, Decimal) or not factor.is_finite() or factor <= 0:
                raise ValueError(f"{self.key}: the lorazepam factor must be a Decimal above 0.")

    @property
    def is_antidepressant(self) -> bool:
        return self.antidepressant_class is not None

    @property
    def name(self) -> str:
        """As people read it: "alprazolam (Xanax)"."""
        if not self.brands:
            return self.generic
        return f"{self.generic} ({', '.join(self.brands)})"

    @property
    def class_label(self) -> str:
        if self.antidepressant_class is not None and self.drug_class is DrugClass.ANTIDEPRESSANT:
            return f"Antidepressant ({self.antidepressant_class.label})"
        return self.drug_class.label


def _key(generic: str) -> str:
    return generic.replace(" ", "_")


def _benzo(generic: str, brands: tuple[str, ...], factor: str | None) -> Drug:
    return Drug(
        key=_key(generic),
        generic=generic,
        brands=brands,
        drug_class=DrugClass.BENZODIAZEPINE,
        source=f"{LABEL_SOURCE}; equivalence: {ASHTON_SOURCE}",
        lorazepam_1mg_equivalent=Decimal(factor) if factor is not None else None,
    )


def _of(drug_class: DrugClass, generic: str, *brands: str) -> Drug:
    return Drug(key=_key(generic), generic=generic, brands=brands, drug_class=drug_class)


def _antidepressant(kind: AntidepressantClass, generic: str, *brands: str) -> Drug:
    drug_class = DrugClass.MAOI if kind is AntidepressantClass.MAOI else DrugClass.ANTIDEPRESSANT
    return Drug(
        key=_key(generic),
        generic=generic,
        brands=brands,
        drug_class=drug_class,
        antidepressant_class=kind,
    )


_B = DrugClass
_A = AntidepressantClass

CATALOGUE: tuple[Drug, ...] = (
    # Benzodiazepines: mg about as strong as 1 mg lorazepam, from the Ashton table
    # (its "equivalent to diazepam 10 mg" column, where lorazepam is 1 mg).
    _benzo("alprazolam", ("Xanax",), "0.5"),
    _benzo("chlordiazepoxide", ("Librium",), "25"),
    _benzo("clobazam", ("Onfi", "Sympazan"), "20"),
    _benzo("clonazepam", ("Klonopin",), "0.5"),
    _benzo("clorazepate", ("Tranxene",), "15"),
    _benzo("diazepam", ("Valium",), "10"),
    _benzo("lorazepam", ("Ativan",), "1"),
    _benzo("oxazepam", ("Serax",), "20"),
    _benzo("quazepam", ("Doral",), "20"),
    _benzo("temazepam", ("Restoril",), "20"),
    _benzo("triazolam", ("Halcion",), "0.5"),
    # The table gives a range for these two: the physician estimates.
    _benzo("estazolam", ("ProSom",), None),
    _benzo("flurazepam", ("Dalmane",), None),
    Drug(
        key="benzodiazepine_unknown",
        generic="a benzodiazepine (not sure which)",
        brands=(),
        drug_class=DrugClass.BENZODIAZEPINE,
        source="Clinic: for a patient who knows the class but not the medicine",
    ),
    # MAOIs (antidepressants; also their own screening class).
    _antidepressant(_A.MAOI, "phenelzine", "Nardil"),
    _antidepressant(_A.MAOI, "tranylcypromine", "Parnate"),
    _antidepressant(_A.MAOI, "isocarboxazid", "Marplan"),
    _antidepressant(_A.MAOI, "selegiline patch", "Emsam"),
    _of(_B.LAMOTRIGINE, "lamotrigine", "Lamictal"),
    # Stimulants.
    _of(_B.STIMULANT, "amphetamine salts", "Adderall", "Mydayis"),
    _of(_B.STIMULANT, "dextroamphetamine", "Dexedrine", "Zenzedi"),
    _of(_B.STIMULANT, "lisdexamfetamine", "Vyvanse"),
    _of(_B.STIMULANT, "methylphenidate", "Ritalin", "Concerta"),
    _of(_B.STIMULANT, "dexmethylphenidate", "Focalin"),
    _of(_B.STIMULANT, "modafinil", "Provigil"),
    _of(_B.STIMULANT, "armodafinil", "Nuvigil"),
    # Opioids.
    _of(_B.OPIOID, "buprenorphine", "Suboxone", "Subutex", "Sublocade"),
    _of(_B.OPIOID, "codeine", "Tylenol with Codeine"),
    _of(_B.OPIOID, "fentanyl", "Duragesic"),
    _of(_B.OPIOID, "hydrocodone", "Norco", "Vicodin"),
    _of(_B.OPIOID, "hydromorphone", "Dilaudid"),
    _of(_B.OPIOID, "methadone", "Methadose"),
    _of(_B.OPIOID, "morphine", "MS Contin"),
    _of(_B.OPIOID, "oxycodone", "OxyContin", "Percocet", "Roxicodone"),
    _of(_B.OPIOID, "tapentadol", "Nucynta"),
    _of(_B.OPIOID, "tramadol", "Ultram"),
    # Other CNS depressants: sleeping tablets, gabapentinoids, muscle relaxants,
    # sedating antihistamines, barbiturates.
    _of(_B.OTHER_CNS_DEPRESSANT, "zolpidem", "Ambien"),
    _of(_B.OTHER_CNS_DEPRESSANT, "eszopiclone", "Lunesta"),
    _of(_B.OTHER_CNS_DEPRESSANT, "zaleplon", "Sonata"),
    _of(_B.OTHER_CNS_DEPRESSANT, "gabapentin", "Neurontin"),
    _of(_B.OTHER_CNS_DEPRESSANT, "pregabalin", "Lyrica"),
    _of(_B.OTHER_CNS_DEPRESSANT, "cyclobenzaprine", "Flexeril"),
    _of(_B.OTHER_CNS_DEPRESSANT, "carisoprodol", "Soma"),
    _of(_B.OTHER_CNS_DEPRESSANT, "baclofen", "Lioresal"),
    _of(_B.OTHER_CNS_DEPRESSANT, "hydroxyzine", "Vistaril", "Atarax"),
    _of(_B.OTHER_CNS_DEPRESSANT, "promethazine", "Phenergan"),
    _of(_B.OTHER_CNS_DEPRESSANT, "phenobarbital"),
    # Antidepressants by class.
    _antidepressant(_A.SSRI, "citalopram", "Celexa"),
    _antidepressant(_A.SSRI, "escitalopram", "Lexapro"),
    _antidepressant(_A.SSRI, "fluoxetine", "Prozac"),
    _antidepressant(_A.SSRI, "fluvoxamine", "Luvox"),
    _antidepressant(_A.SSRI, "paroxetine", "Paxil"),
    _antidepressant(_A.SSRI, "sertraline", "Zoloft"),
    _antidepressant(_A.SNRI, "desvenlafaxine", "Pristiq"),
    _antidepressant(_A.SNRI, "duloxetine", "Cymbalta"),
    _antidepressant(_A.SNRI, "levomilnacipran", "Fetzima"),
    _antidepressant(_A.SNRI, "venlafaxine", "Effexor"),
    _antidepressant(_A.TCA, "amitriptyline", "Elavil"),
    _antidepressant(_A.TCA, "clomipramine", "Anafranil"),
    _antidepressant(_A.TCA, "desipramine", "Norpramin"),
    _antidepressant(_A.TCA, "doxepin", "Sinequan"),
    _antidepressant(_A.TCA, "imipramine", "Tofranil"),
    _antidepressant(_A.TCA, "nortriptyline", "Pamelor"),
    _antidepressant(_A.ATYPICAL, "bupropion", "Wellbutrin"),
    _antidepressant(_A.ATYPICAL, "mirtazapine", "Remeron"),
    _antidepressant(_A.ATYPICAL, "trazodone", "Desyrel"),
    _antidepressant(_A.ATYPICAL, "vilazodone", "Viibryd"),
    _antidepressant(_A.ATYPICAL, "vortioxetine", "Trintellix"),
    # Antipsychotics.
    _of(_B.ANTIPSYCHOTIC, "aripiprazole", "Abilify"),
    _of(_B.ANTIPSYCHOTIC, "brexpiprazole", "Rexulti"),
    _of(_B.ANTIPSYCHOTIC, "cariprazine", "Vraylar"),
    _of(_B.ANTIPSYCHOTIC, "clozapine", "Clozaril"),
    _of(_B.ANTIPSYCHOTIC, "haloperidol", "Haldol"),
    _of(_B.ANTIPSYCHOTIC, "lurasidone", "Latuda"),
    _of(_B.ANTIPSYCHOTIC, "olanzapine", "Zyprexa"),
    _of(_B.ANTIPSYCHOTIC, "quetiapine", "Seroquel"),
    _of(_B.ANTIPSYCHOTIC, "risperidone", "Risperdal"),
    _of(_B.ANTIPSYCHOTIC, "ziprasidone", "Geodon"),
    # Mood stabilisers (lamotrigine has its own class above).
    _of(_B.MOOD_STABILISER, "lithium", "Lithobid"),
    _of(_B.MOOD_STABILISER, "divalproex", "Depakote"),
    _of(_B.MOOD_STABILISER, "carbamazepine", "Tegretol", "Equetro"),
    _of(_B.MOOD_STABILISER, "oxcarbazepine", "Trileptal"),
)

_BY_KEY: dict[str, Drug] = {drug.key: drug for drug in CATALOGUE}
MAX_KEY_LENGTH = 40
if len(_BY_KEY) != len(CATALOGUE):  # pragma: no cover - a typo in the list above
    raise ValueError("Two drugs on the list share a key.")
if any(len(key) > MAX_KEY_LENGTH for key in _BY_KEY):  # pragma: no cover
    raise ValueError(f"A drug key is longer than {MAX_KEY_LENGTH} characters.")


def drug_by_key(key: str) -> Drug | None:
    """The listed drug with this key, or None (a key from an older list, or a typo)."""
    return _BY_KEY.get(key)


def _fold(text: str) -> str:
    # Case- and accent-blind, so "Ativán" and "ATIVAN" find lorazepam.
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


def drug_by_name(text: str) -> Drug | None:
    """The listed drug whose generic or brand name, or name as shown, is exactly ``text``
    (ignoring case and accents): what a patient who typed the name in full meant."""
    needle = _fold(text)
    if not needle:
        return None
    for drug in CATALOGUE:
        names = [drug.generic, *drug.brands, drug.name]
        if any(_fold(name) == needle for name in names):
            return drug
    return None


def search(query: str, *, limit: int = 10) -> list[Drug]:
    """Listed drugs whose generic or brand name contains ``query``; names that start with
    it first, then alphabetically. Fewer than two characters finds nothing."""
    needle = _fold(query)
    if len(needle) < 2:
        return []
    starts: list[Drug] = []
    contains: list[Drug] = []
    for drug in sorted(CATALOGUE, key=lambda d: d.generic):
        names = [_fold(drug.generic), *(_fold(brand) for brand in drug.brands)]
        if any(name.startswith(needle) for name in names):
            starts.append(drug)
        elif any(needle in name for name in names):
            contains.append(drug)
    return (starts + contains)[:limit]


def catalogue_fingerprint() -> str:
    """A hash of what the list means for the screening: keys, classes and factors.

    Brand names and sources are left out: adding a brand changes no patient's result.
    """
    payload = [
        [
            drug.key,
            str(drug.drug_class),
            str(drug.antidepressant_class or ""),
            str(drug.lorazepam_1mg_equivalent or ""),
        ]
        for drug in CATALOGUE
    ]
    encoded = json.dumps(payload, ensure_ascii=True).encode()
    return hashlib.sha256(encoded).hexdigest()
