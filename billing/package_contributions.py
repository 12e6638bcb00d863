"""What is left of a patient's packages, on pages other apps own (registered from
``BillingConfig.ready``): on the chart, under the balance (``patients.views.chart.chart_page``),
and on the appointment page where the front desk checks the patient in
(``scheduling.views.appointments.appointment_page``). For everyone who sees the balance:
clinicians see what is left, not what it cost."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL

from billing.package_selectors import packages_left_for
from patients.models import Patient
from patients.views.chart import chart_page, chart_patient
from scheduling.models import Appointment
from scheduling.views.appointments import appointment_page


def with_packages_sold(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    """``patients`` with ``has_packages``: whether any package was ever sold to each, in the
    same query, so that the chart of a patient without one asks nothing more. For a query of
    patients itself, not a subquery of another (it names its table)."""
    return patients.annotate(has_packages=_ANY_PACKAGE)


# Written as SQL once: an Exists of a queryset was resolved and compiled again for every
# chart (~0.5 ms of its Python). No value in it.
_ANY_PACKAGE = RawSQL(
    "SELECT EXISTS(SELECT 1 FROM billing_patientpackage p "
    "WHERE p.patient_id = patients_patient.id)",
    [],
    output_field=BooleanField(),
)


chart_patient.register(with_packages_sold)


@chart_page.register
def chart_packages_left(user: Any, patient: Patient, *, shown: Mapping[str, Any]) -> dict:
    left = packages_left_for(user, patient)
    return {} if left is None else {"packages_left": left}


@appointment_page.register
def check_in_packages_left(
    user: Any, appointment: Appointment, *, shown: Mapping[str, Any]
) -> dict:
    left = packages_left_for(user, appointment.patient)
    return {} if left is None else {"packages_left": left}
