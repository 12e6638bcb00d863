"""The medicines the clinic asks about, as data with sources.

A pure package, like ``patients.screening``: no models, no database, no Django at
import time. ``catalogue`` holds the curated drug list (generic and brand names, the
class each drug belongs to) and the search the intake's drug picker uses;
``benzodiazepines`` holds the lorazepam-equivalence table and turns a daily dose of any
listed benzodiazepine into milligrams of lorazepam, in ``Decimal``.

Change a drug's class or an equivalence factor and the screening of every patient who
takes it changes: bump ``CATALOGUE_VERSION`` (and ``RULESET_VERSION`` in
``patients.screening``); a test pins the catalogue's fingerprint to its version.
"""

from patients.medicines.benzodiazepines import (
    EQUIVALENCE_SOURCE,
    LORAZEPAM_PLACES,
    lorazepam_equivalent,
)
from patients.medicines.catalogue import (
    CATALOGUE,
    CATALOGUE_VERSION,
    AntidepressantClass,
    Drug,
    DrugClass,
    catalogue_fingerprint,
    drug_by_key,
    drug_by_name,
    search,
)

__all__ = [
    "CATALOGUE",
    "CATALOGUE_VERSION",
    "EQUIVALENCE_SOURCE",
    "LORAZEPAM_PLACES",
    "AntidepressantClass",
    "Drug",
    "DrugClass",
    "catalogue_fingerprint",
    "drug_by_key",
    "drug_by_name",
    "lorazepam_equivalent",
    "search",
]
