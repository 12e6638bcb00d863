"""Benzodiazepine doses in lorazepam equivalents.

The clinic's rule is about the daily benzodiazepine load "in mg of lorazepam" (DOMAIN.md,
candidacy screening: above 2 mg lorazepam-equivalent a day, review). Patients take many
benzodiazepines, so the load is computed from each drug's daily dose with the Ashton
equivalence table, never asked of the patient as arithmetic.

Source: Ashton CH, *Benzodiazepines: How They Work and How to Withdraw* (the Ashton
Manual), 2002, Table 1, and her Benzodiazepine Equivalence Table, revised April 2007
(https://www.benzo.org.uk/bzequiv.htm): approximate oral doses equivalent to diazepam
10 mg, where lorazepam is 1 mg. So lorazepam 1 mg ≈ alprazolam 0.5 ≈ clobazam 20 ≈
clonazepam 0.5 ≈ chlordiazepoxide 25 ≈ clorazepate 15 ≈ diazepam 10 ≈ oxazepam 20 ≈
quazepam 20 ≈ temazepam 20 ≈ triazolam 0.5 mg. The table gives ranges for estazolam
(1 to 2 mg) and flurazepam (15 to 30 mg); for those, as for a benzodiazepine the patient cannot
name, there is no factor and the physician estimates. The factors are approximate: they
flag a load for the physician, not a dose to switch to.

Decimal throughout; a result is rounded half up to 0.01 mg.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from patients.medicines.catalogue import ASHTON_SOURCE, Drug, DrugClass

EQUIVALENCE_SOURCE = ASHTON_SOURCE
LORAZEPAM_PLACES = Decimal("0.01")


def lorazepam_equivalent(drug: Drug, daily_mg: Decimal) -> Decimal | None:
    """``daily_mg`` of ``drug`` as mg of lorazepam a day, or None when the table has no
    single factor for it. Raises ValueError for a drug that is not a benzodiazepine or a
    dose that is not a finite Decimal of 0 or more (a caller's bug: guessing is unsafe)."""
    if drug.drug_class is not DrugClass.BENZODIAZEPINE:
        raise ValueError(f"{drug.generic} is not a benzodiazepine.")
    if isinstance(daily_mg, bool) or not isinstance(daily_mg, Decimal):
        raise ValueError(f"The daily dose must be a Decimal, not {daily_mg!r}.")
    if not daily_mg.is_finite() or daily_mg < 0:
        raise ValueError(f"The daily dose must be 0 mg or more, not {daily_mg}.")
    factor = drug.lorazepam_1mg_equivalent
    if factor is None:
        return None
    return (daily_mg / factor).quantize(LORAZEPAM_PLACES, rounding=ROUND_HALF_UP)
