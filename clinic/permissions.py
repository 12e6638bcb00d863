"""What each staff role may do: the one place where roles meet capabilities.

Pages, API views and tasks ask ``user_can(user, Capability.X)``; nothing else looks
at a user's roles to decide access. Object-level rules (which patient, which
location) live in each app's selectors and build on these capabilities.
"""

from __future__ import annotations

from enum import StrEnum
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from clinic.roles import Role

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.http import HttpRequest, HttpResponse


class Capability(StrEnum):
    USE_STAFF_AREA = "use_staff_area"
    VIEW_LOCATIONS = "view_locations"
    MANAGE_LOCATIONS = "manage_locations"
    MANAGE_STAFF = "manage_staff"
    VIEW_AUDIT_LOG = "view_audit_log"
    USE_DJANGO_ADMIN = "use_django_admin"
    VIEW_SYSTEM_STATUS = "view_system_status"
    EDIT_CONTENT = "edit_content"
    USE_API = "use_api"
    # Patients: demographics and status, then clinical detail, then the clinical acts.
    VIEW_PATIENTS = "view_patients"
    EDIT_PATIENT_DETAILS = "edit_patient_details"
    SEND_PATIENT_LINKS = "send_patient_links"
    VIEW_CLINICAL = "view_clinical"
    RECORD_CLINICAL = "record_clinical"
    DECIDE_SCREENING = "decide_screening"
    MANAGE_CONSENT_DOCUMENTS = "manage_consent_documents"
    # Scheduling.
    VIEW_SCHEDULE = "view_schedule"
    BOOK_APPOINTMENTS = "book_appointments"
    MANAGE_COURSES = "manage_courses"
    # Infusion sessions: the drug itself, and a physician's orders and sign-offs (dose
    # orders, acknowledging a pre-infusion blood pressure caution, the note that lets a
    # patient with an unresolved alert go home).
    HANDLE_CONTROLLED_SUBSTANCES = "handle_controlled_substances"
    SIGN_MEDICAL_ORDERS = "sign_medical_orders"
    # Oversight without treating: reading the controlled-substance ledger (stock, each lot's
    # entries and counts, the CSV export), which the registrant answers for in an
    # inspection; and the outcomes dashboard's aggregates (who worsened or is overdue is
    # clinical detail, shown with VIEW_CLINICAL only).
    VIEW_LEDGER = "view_ledger"
    # The DEA inspection report of a location: the ledger with each dose's patient name and
    # address, for the registrant (a physician) and clinic admins who answer the inspector.
    INSPECT_DEA_RECORDS = "inspect_dea_records"
    VIEW_OUTCOMES = "view_outcomes"
    # Billing: what a patient owes (everyone who works with patients sees it on the chart);
    # the invoices and payments themselves (the front desk and clinic admins), taking a
    # payment and issuing an invoice, correcting the books (refunds, credit notes, voids:
    # money going back, decided by a clinic admin), and the price list.
    VIEW_BALANCE = "view_balance"
    VIEW_BILLING = "view_billing"
    TAKE_PAYMENTS = "take_payments"
    CORRECT_BILLING = "correct_billing"
    MANAGE_PRICES = "manage_prices"
    # The whole clinic's records as FHIR files (interop's bulk export), so that the clinic
    # is never locked in: run by a clinic admin, for the clinic, not to treat anyone.
    EXPORT_CLINIC_DATA = "export_clinic_data"


_CLINIC_STAFF = {
    Capability.USE_STAFF_AREA,
    Capability.VIEW_LOCATIONS,
    Capability.USE_API,
    Capability.VIEW_PATIENTS,
    Capability.EDIT_PATIENT_DETAILS,
    Capability.SEND_PATIENT_LINKS,
    Capability.VIEW_SCHEDULE,
    Capability.BOOK_APPOINTMENTS,
    Capability.VIEW_BALANCE,
}
# The desk's money work: the invoices and payments, not the clinical record.
_MONEY = {Capability.VIEW_BILLING, Capability.TAKE_PAYMENTS}
# Clinical detail is for the people who treat: the front desk and clinic admins see a
# patient's demographics and status only (minimum necessary).
_CLINICIAN = _CLINIC_STAFF | {
    Capability.VIEW_CLINICAL,
    Capability.RECORD_CLINICAL,
    Capability.MANAGE_COURSES,
    Capability.HANDLE_CONTROLLED_SUBSTANCES,
    Capability.VIEW_LEDGER,
    Capability.VIEW_OUTCOMES,
}

ROLE_CAPABILITIES: dict[Role, frozenset[Capability]] = {
    Role.FRONT_DESK: frozenset(_CLINIC_STAFF | _MONEY),
    Role.NURSE: frozenset(_CLINICIAN),
    Role.PHYSICIAN: frozenset(
        _CLINICIAN
        | {
            Capability.DECIDE_SCREENING,
            Capability.SIGN_MEDICAL_ORDERS,
            Capability.INSPECT_DEA_RECORDS,
        }
    ),
    Role.CLINIC_ADMIN: frozenset(
        _CLINIC_STAFF
        | _MONEY
        | {
            Capability.CORRECT_BILLING,
            Capability.MANAGE_PRICES,
            Capability.MANAGE_LOCATIONS,
            Capability.MANAGE_STAFF,
            Capability.VIEW_AUDIT_LOG,
            Capability.USE_DJANGO_ADMIN,
            Capability.VIEW_SYSTEM_STATUS,
            Capability.EDIT_CONTENT,
            Capability.MANAGE_CONSENT_DOCUMENTS,
            # Read, export and see the counts; recording a count (or anything else in the
            # ledger) means handling the drug, which stays with nurses and physicians.
            Capability.VIEW_LEDGER,
            Capability.INSPECT_DEA_RECORDS,
            Capability.VIEW_OUTCOMES,
            Capability.EXPORT_CLINIC_DATA,
        }
    ),
    Role.CONTENT_EDITOR: frozenset(
        {Capability.USE_STAFF_AREA, Capability.EDIT_CONTENT, Capability.USE_API}
    ),
}


def capabilities_of(user: Any) -> frozenset[Capability]:
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    if not user.is_active:
        return frozenset()
    granted: set[Capability] = set()
    for role in user.roles:
        granted |= ROLE_CAPABILITIES.get(Role(role), frozenset())
    return frozenset(granted)


def user_can(user: Any, capability: Capability) -> bool:
    return capability in capabilities_of(user)


def require(user: Any, capability: Capability) -> None:
    if not user_can(user, capability):
        raise PermissionDenied


def capability_required(
    capability: Capability,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """View decorator: log in first, then 403 unless the user's roles grant ``capability``."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            require(request.user, capability)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
