"""Who sees which staff pages and navigation: every persona against every route.

The expectations are written out here, on purpose not derived from
``clinic.permissions``: if the role-to-capability mapping is ever wrong, this table
and the code disagree and the test says so. Every route in the URLconf has a row (a test
walks the resolver), those with an id in them too: asked with ids that match nothing, they
show that each view checks the role before it looks the record up.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import quote

import pytest
from django.http import HttpResponse
from django.test import Client
from django_otp_webauthn.models import WebAuthnCredential

from conftest import PASSWORD
from tests.url_patterns import all_routes, example_url

SIGNED_IN = ["fran", "nina", "phil", "alice", "edie"]
# Answer like the API (401 without credentials, 403 for a role that may not): the v1 API and
# the FHIR export.
API_PREFIXES = ("/api/", "/fhir/")
PERSONAS = [*SIGNED_IN, "olga", "anonymous"]

CLINICAL_NAV = ["Home", "Schedule", "Patients", "Locations"]
NAVIGATION = {
    "fran": [*CLINICAL_NAV, "Billing"],
    "nina": [*CLINICAL_NAV, "Ledger", "Outcomes"],
    "phil": [*CLINICAL_NAV, "Ledger", "Outcomes"],
    "alice": [
        "Home",
        "Schedule",
        "Patients",
        "Locations",
        "Ledger",
        "Outcomes",
        "Billing",
        "Content",
        # Under the "Admin" menu, in this order.
        "Staff accounts",
        "Consent forms",
        "Data export",
        "Audit log",
        "Django admin",
    ],
    "edie": ["Home", "Content"],
    "olga": [],  # deactivated: treated as signed out
    "anonymous": [],
}

ALLOWED = {
    "/staff/": {"fran", "nina", "phil", "alice", "edie"},
    "/staff/locations/": {"fran", "nina", "phil", "alice"},
    "/staff/patients/": {"fran", "nina", "phil", "alice"},
    "/staff/patients/consent-documents/": {"alice"},
    # Clinicians see the Spravato REMS settings' certifications; clinic admins record them too.
    "/staff/sessions/rems/certifications/": {"nina", "phil", "alice"},
    "/staff/sessions/rems/receive/": {"nina", "phil"},
    "/api/v1/patients/": {"fran", "nina", "phil", "alice"},
    "/staff/schedule/": {"fran", "nina", "phil", "alice"},
    "/staff/schedule/waitlist/": {"fran", "nina", "phil", "alice"},
    "/api/v1/appointments/": {"fran", "nina", "phil", "alice"},
    "/api/v1/courses/": {"fran", "nina", "phil", "alice"},
    "/api/v1/waitlist/": {"fran", "nina", "phil", "alice"},
    # The registrant answers for the ledger in an inspection: clinic admins read and export
    # it; only those who handle the drug write to it (receive, waste, adjust, count).
    "/staff/ledger/": {"nina", "phil", "alice"},
    "/staff/ledger/receive/": {"nina", "phil"},
    "/staff/ledger/export/": {"nina", "phil", "alice"},
    # The inspection report names each dose's patient and address: for the registrant (a
    # physician) and clinic admins, who answer the inspector.
    "/staff/ledger/inspection/": {"phil", "alice"},
    # DEA registrations: read with the ledger; recorded by clinic admins (POST, tested in
    # infusions/tests/test_dea.py).
    "/staff/ledger/registrations/": {"nina", "phil", "alice"},
    # Inventories: read with the ledger, taken by those who handle the drug.
    "/staff/ledger/inventories/": {"nina", "phil", "alice"},
    "/staff/ledger/incidents/": {"nina", "phil", "alice"},
    "/api/v1/ledger/lots/": {"nina", "phil", "alice"},
    # The DEA records through the API: read with the ledger (infusions/tests/test_api_dea.py
    # has who may write them).
    "/api/v1/dea/registrations/": {"nina", "phil", "alice"},
    "/api/v1/dea/receipts/": {"nina", "phil", "alice"},
    "/api/v1/dea/inventories/": {"nina", "phil", "alice"},
    "/api/v1/dea/destructions/": {"nina", "phil", "alice"},
    "/api/v1/dea/loss-incidents/": {"nina", "phil", "alice"},
    # Aggregates for clinic admins; only clinicians see who worsened or is overdue.
    "/staff/outcomes/": {"nina", "phil", "alice"},
    # The full lists of who worsened and who is overdue name patients: clinicians only.
    "/staff/outcomes/worsened/": {"nina", "phil"},
    "/staff/outcomes/overdue/": {"nina", "phil"},
    "/staff/accounts/": {"alice"},
    # The price list is the clinic admin's.
    "/staff/billing/prices/": {"alice"},
    # The billing index and its reports: the front desk closes the day and chases balances.
    "/staff/billing/": {"fran", "alice"},
    "/staff/billing/close/": {"fran", "alice"},
    "/staff/billing/close/csv/": {"fran", "alice"},
    "/staff/billing/aged/": {"fran", "alice"},
    "/staff/billing/aged/csv/": {"fran", "alice"},
    "/staff/billing/open/": {"fran", "alice"},
    # The billing API: the books for the front desk and clinic admins, prices for admins.
    "/api/v1/prices/": {"alice"},
    "/api/v1/invoices/": {"fran", "alice"},
    "/api/v1/payments/": {"fran", "alice"},
    "/api/v1/refunds/": {"fran", "alice"},
    # The fees a no-show or a late cancel proposes: the front desk decides them. What booking
    # online asks for at each location is the clinic admin's.
    "/staff/billing/fees/": {"fran", "alice"},
    "/staff/billing/booking-policies/": {"alice"},
    # So are the superbill's codes and the practice details it prints.
    "/staff/billing/superbill-codes/": {"alice"},
    "/staff/billing/superbill-codes/practice/": {"alice"},
    "/staff/billing/superbill-codes/services/new/": {"alice"},
    # So are the package offers and the package liability report; the offers are read through
    # the API by those who see the books.
    "/staff/billing/packages/": {"alice"},
    "/staff/billing/reports/packages/": {"alice"},
    "/api/v1/package-offers/": {"fran", "alice"},
    # Everyone's own account page, and making a personal API token there.
    "/staff/accounts/me/tokens/new/": {"fran", "nina", "phil", "alice", "edie"},
    "/staff/audit/": {"alice"},
    # The whole clinic's records as FHIR files, for the clinic admin.
    "/staff/data-export/": {"alice"},
    "/admin/": {"alice"},
    "/api/v1/me/": {"fran", "nina", "phil", "alice", "edie"},
    "/staff/content/": {"alice", "edie"},
    "/staff/content/faq/": {"alice", "edie"},
    "/staff/content/articles/": {"alice", "edie"},
    "/api/v1/content/editor/faq/": {"alice", "edie"},
    "/api/v1/content/editor/articles/": {"alice", "edie"},
    # "Forgot your password?" answers anyone, signed in or not.
    "/staff/password-reset/": set(PERSONAS),
    "/staff/password-reset/sent/": set(PERSONAS),
    # Published content is public: everyone reads it, signed in or not.
    "/api/v1/content/faq/": set(PERSONAS),
    "/api/v1/content/articles/": set(PERSONAS),
    # Forms for new records.
    "/staff/patients/new/": {"fran", "nina", "phil", "alice"},
    "/staff/patients/consent-documents/new/": {"alice"},
    "/staff/schedule/book/": {"fran", "nina", "phil", "alice"},
    "/staff/schedule/waitlist/new/": {"fran", "nina", "phil", "alice"},
    "/staff/schedule/appointment-types/": {"alice"},
    "/staff/content/faq/new/": {"alice", "edie"},
    "/staff/content/articles/new/": {"alice", "edie"},
    "/staff/locations/new/": {"alice"},
    "/staff/accounts/new/": {"alice"},
    # Everyone's own account.
    "/staff/accounts/me/": set(SIGNED_IN),
    "/staff/accounts/me/password/": set(SIGNED_IN),
    "/staff/accounts/me/second-factor/": set(SIGNED_IN),
    "/staff/accounts/second-factor-policy/": {"alice"},
    "/api/v1/locations/": {"fran", "nina", "phil", "alice"},
    "/api/v1/sessions/": {"nina", "phil"},
    # The API's description is public (drf-spectacular's default); it holds no data.
    "/api/schema/": set(PERSONAS),
    "/api/docs/": set(PERSONAS),
}

# Routes with no row above, each with the reason. Every other route in the URLconf must
# have a row: test_every_route_in_the_urlconf_has_a_row fails for a new one without.
NOT_IN_THE_MATRIX = {
    # Public pages, for everyone signed in or not (content/tests/test_public_pages.py).
    "/": "the public home page",
    "/conditions/": "public",
    "/locations/": "public",
    "/faq/": "public",
    "/learn/": "public",
    "/sitemap.xml": "public",
    "/robots.txt": "public",
    "/book/": "public booking (scheduling/tests/test_public_booking.py)",
    "/staff/login/": "the sign-in page, for everyone",
    # Starting a bulk export needs the header Prefer: respond-async: a plain GET is a 400 for
    # the clinic admin too (interop/tests/test_bulk_export.py has who may start one).
    "/fhir/R4/$export": "the FHIR bulk export kick-off",
    # Patient-link pages: a token, not a role, opens them (patients/tests/test_links_and_staff.py
    # refuses staff sessions on them); the "done" pages show nothing about anyone.
    "/p/intake/done/": "public thank-you page",
    "/p/consent/signed/": "public thank-you page",
    "/p/questionnaire/done/": "public thank-you page",
    "/p/check-in/done/": "public thank-you page",
    # Webhooks: a signature, not a role (clinic/tests/test_inbound_sms.py, test_twilio.py).
    "/m/sms/inbound/": "signed webhook",
    "/m/sms/twilio/": "signed webhook",
    "/hooks/stripe/": "signed webhook (billing/tests/test_webhooks.py)",
    "/pay/card/<str:token>/": "a card link's token (billing/tests/test_card_links.py)",
    "/pay/card/<str:token>/done/": "a card link's token (billing/tests/test_card_links.py)",
    "/pay/booking/<uuid:hold_id>/done/": "a held booking (billing/tests/test_deposits.py)",
    # POST only, or needs parameters to mean anything; each view's tests check its roles.
    "/staff/logout/": "POST only, for anyone signed in",
    "/staff/content/preview/": "POST only (content/tests/test_staff_pages.py)",
    "/staff/accounts/me/sessions/revoke-others/": "POST only (clinic/tests/test_staff_sessions.py)",
    "/staff/accounts/me/second-factor/app/remove/": "POST only (test_second_factor.py)",
    "/staff/accounts/me/second-factor/recovery-codes/": "POST only (test_second_factor.py)",
    # Signing in: the second step, for a session that has passed the password but not yet its
    # second factor (clinic/tests/test_second_factor.py, tests/browser/test_passkey.py).
    "/staff/second-factor/verify/": "the sign-in's second step",
    # A clinic tablet handed to a patient: any signed-in staff session that locked it
    # (patients/tests/test_consent_pages.py).
    "/staff/tablet/hand-back/": "the locked tablet's page",
    "/staff/second-factor/set-up/": "the sign-in's second step",
    "/staff/second-factor/set-up/app/": "the sign-in's second step",
    "/staff/second-factor/set-up/passkey/": "the sign-in's second step",
    "/staff/second-factor/set-up/passkey/added/": "the sign-in's second step",
    "/staff/second-factor/recovery-codes/": "shown once after setting up a second factor",
    "/staff/second-factor/passkeys/registration/begin/": "passkey ceremony (POST, JSON)",
    "/staff/second-factor/passkeys/registration/complete/": "passkey ceremony (POST, JSON)",
    "/staff/second-factor/passkeys/authentication/begin/": "passkey ceremony (POST, JSON)",
    "/staff/second-factor/passkeys/authentication/complete/": "passkey ceremony (POST, JSON)",
    "/staff/second-factor/passkeys/jsi18n/": "the passkey script's messages, no data",
    "/staff/schedule/courses/new/": "needs ?patient= (scheduling/tests/test_courses_pages.py)",
    "/api/v1/slots/": "needs a location and dates (scheduling/tests/test_api.py)",
    "/api/v1/courses/plan/": "POST only (scheduling/tests/test_api_courses.py)",
    "/api/v1/ledger/export.csv": "needs a date range (infusions/tests/test_api_ledger.py)",
    "/api/v1/dea/inspection.csv": "needs a location (infusions/tests/test_api_dea.py)",
    # Routes with a token or a public slug in them: a token, not a role, opens them, and
    # the public pages are for everyone.
    "/book/<uuid:location_id>/": "public booking (scheduling/tests/test_public_booking.py)",
    "/book/<uuid:location_id>/details/": "public booking (scheduling/tests/test_public_booking.py)",
    "/book/confirmed/<str:token>/": "a booking's token (scheduling/tests/test_public_booking.py)",
    "/book/manage/<str:token>/": (
        "a booking's token (scheduling/tests/test_public_booking_manage.py)"
    ),
    "/book/manage/<str:token>/cancel/": (
        "a booking's token (scheduling/tests/test_public_booking_manage.py)"
    ),
    "/book/manage/<str:token>/reschedule/": (
        "a booking's token (scheduling/tests/test_public_booking_manage.py)"
    ),
    "/book/manage/<str:token>/calendar.ics": "a booking's token (scheduling/tests/test_ics.py)",
    "/p/intake/<str:token>/": "a patient's link (patients/tests/test_links_and_staff.py)",
    "/p/intake/<str:token>/medicines/": (
        "a patient's link: the medicine search (patients/tests/test_medication_list.py)"
    ),
    "/p/consent/<str:token>/": "a patient's link (patients/tests/test_links_and_staff.py)",
    "/p/questionnaire/<str:token>/": "a patient's link (patients/tests/test_links_and_staff.py)",
    "/p/check-in/<str:token>/": "a patient's link (patients/tests/test_links_and_staff.py)",
    "/m/unsubscribe/<str:token>/": "a message's token (clinic/tests/test_unsubscribe.py)",
    "/staff/accounts/set-password/<uuid:public_id>/<str:token>/": (
        "a set-password link's token (clinic/tests/test_accounts.py)"
    ),
    "/conditions/<slug:slug>/": "public (content/tests/test_public_pages.py)",
    "/learn/<slug:slug>/": "public (content/tests/test_public_pages.py)",
    "/api/v1/content/articles/<slug:slug>/": "public content (content/tests/test_api.py)",
}
# Not here either, by design: the Django admin's pages for each model, behind the admin
# site's own permission check (row "/admin/"; clinic/tests/test_admin.py).
ADMIN_PREFIX = "admin/"

# Routes with an id in them, keyed by the route as written in the URLconf. The test asks each
# with made-up ids (tests/url_patterns.py) that match no record: a persona the row names gets
# past the role check to the record lookup, and its 404; everyone else is refused before any
# lookup (403, or the sign-in page when signed out). So the role check comes first, and a
# refusal never tells whether a record exists. A row names who may read (GET); a write with
# a rule of its own has a second row in WRITES_WITH_IDS.
CLINIC_STAFF = {"fran", "nina", "phil", "alice"}  # patients' details, the schedule, links
CLINICIANS = {"nina", "phil"}  # clinical detail and acts, treatment courses, the drug
PHYSICIANS = {"phil"}  # screening decisions, dose orders, a caution's acknowledgement
CLINIC_ADMINS = {"alice"}  # locations, staff accounts, consent documents
CONTENT_EDITORS = {"alice", "edie"}
LEDGER_READERS = {"nina", "phil", "alice"}  # the registrant reads what clinicians write
BILLING = {"fran", "alice"}  # invoices and payments; clinicians see the balance on the chart

ALLOWED_WITH_IDS: dict[str, set[str]] = {
    # Patients: the front desk and clinic admins see demographics and status, edit them and
    # send links; what is clinical is for those who treat.
    "/staff/patients/<uuid:patient_id>/": CLINIC_STAFF,
    "/staff/patients/<uuid:patient_id>/edit/": CLINIC_STAFF,
    "/staff/patients/<uuid:patient_id>/messages/": CLINIC_STAFF,
    "/staff/patients/<uuid:patient_id>/contact-consent/": CLINIC_STAFF,
    "/staff/patients/<uuid:patient_id>/intake/link/": CLINIC_STAFF,
    "/staff/patients/<uuid:patient_id>/consent/link/": CLINIC_STAFF,
    # Whoever sends consent links may witness a signature on the clinic's tablet.
    "/staff/patients/<uuid:patient_id>/consent/tablet/": CLINIC_STAFF,
    "/staff/patients/<uuid:patient_id>/consent/<uuid:signature_id>/": CLINIC_STAFF,
    "/staff/patients/<uuid:patient_id>/measurements/new/": CLINICIANS,
    "/staff/patients/<uuid:patient_id>/questionnaires/new/<str:instrument>/": CLINICIANS,
    "/staff/patients/<uuid:patient_id>/questionnaires/link/": CLINICIANS,
    "/staff/patients/<uuid:patient_id>/intake/new/": CLINICIANS,
    "/staff/patients/<uuid:patient_id>/intake/diff/": CLINICIANS,
    "/staff/patients/<uuid:patient_id>/intake/<int:version>/": CLINICIANS,
    "/staff/patients/<uuid:patient_id>/screening/run/": CLINICIANS,
    "/staff/patients/<uuid:patient_id>/medications/confirm/": CLINICIANS,
    "/staff/patients/<uuid:patient_id>/safety-alerts/<uuid:alert_id>/follow-up/": CLINICIANS,
    "/staff/patients/<uuid:patient_id>/decision/new/": PHYSICIANS,
    "/staff/patients/consent-documents/<uuid:document_id>/": CLINIC_ADMINS,
    "/staff/patients/consent-documents/<uuid:document_id>/edit/": CLINIC_ADMINS,
    "/staff/patients/consent-documents/<uuid:document_id>/publish/": CLINIC_ADMINS,
    "/api/v1/patients/<uuid:patient_id>/": CLINIC_STAFF,
    "/api/v1/patients/<uuid:patient_id>/intakes/": CLINICIANS,
    "/api/v1/patients/<uuid:patient_id>/measurements/": CLINICIANS,
    "/api/v1/patients/<uuid:patient_id>/questionnaires/": CLINICIANS,
    "/api/v1/patients/<uuid:patient_id>/screening/": CLINICIANS,
    "/api/v1/patients/<uuid:patient_id>/decisions/": CLINICIANS,
    # The schedule: everyone who works with patients books, moves and cancels; a treatment
    # course is planned and changed by those who treat.
    "/staff/schedule/appointments/<uuid:appointment_id>/": CLINIC_STAFF,
    "/staff/schedule/appointments/<uuid:appointment_id>/cancel/": CLINIC_STAFF,
    "/staff/schedule/appointments/<uuid:appointment_id>/reschedule/": CLINIC_STAFF,
    "/staff/schedule/appointments/<uuid:appointment_id>/no-show/": CLINIC_STAFF,
    "/staff/schedule/appointments/<uuid:appointment_id>/end-visit/": CLINIC_STAFF,
    "/staff/schedule/appointments/<uuid:appointment_id>/undo/": CLINIC_STAFF,
    "/staff/schedule/appointments/<uuid:appointment_id>/<str:action>/": CLINIC_STAFF,
    "/staff/schedule/waitlist/<uuid:entry_id>/remove/": CLINIC_STAFF,
    "/staff/schedule/courses/<uuid:course_id>/": CLINIC_STAFF,
    "/staff/schedule/courses/<uuid:course_id>/booster/": CLINICIANS,
    "/staff/schedule/courses/<uuid:course_id>/discontinue/": CLINICIANS,
    "/staff/schedule/courses/<uuid:course_id>/complete/": CLINICIANS,
    # Who works when at a location is the clinic admin's to set.
    "/staff/schedule/locations/<uuid:location_id>/shifts/": CLINIC_ADMINS,
    "/staff/schedule/locations/<uuid:location_id>/shifts/<uuid:staff_id>/<int:weekday>/": (
        CLINIC_ADMINS
    ),
    "/staff/schedule/locations/<uuid:location_id>/shifts/<uuid:staff_id>/<int:weekday>/remove/": (
        CLINIC_ADMINS
    ),
    "/api/v1/appointments/<uuid:appointment_id>/": CLINIC_STAFF,
    "/api/v1/appointments/<uuid:appointment_id>/status/": CLINIC_STAFF,
    "/api/v1/appointments/<uuid:appointment_id>/cancel/": CLINIC_STAFF,
    "/api/v1/appointments/<uuid:appointment_id>/undo/": CLINIC_STAFF,
    "/api/v1/appointments/<uuid:appointment_id>/reschedule/": CLINIC_STAFF,
    "/api/v1/courses/<uuid:course_id>/": CLINIC_STAFF,
    "/api/v1/courses/<uuid:course_id>/booster/": CLINIC_STAFF,  # the suggestion; POST below
    "/api/v1/courses/<uuid:course_id>/complete/": CLINICIANS,
    "/api/v1/courses/<uuid:course_id>/discontinue/": CLINICIANS,
    "/api/v1/waitlist/<uuid:entry_id>/": CLINIC_STAFF,
    # Infusion sessions. The front desk opens the session when it checks the patient in ("a
    # nurse takes it from here"); everything in it is clinical. In the API every session
    # endpoint answers with the session's clinical record, so opening one there is for those
    # who treat.
    "/staff/sessions/appointment/<uuid:appointment_id>/": CLINIC_STAFF,
    "/staff/sessions/<uuid:session_id>/": CLINICIANS,
    "/staff/sessions/<uuid:session_id>/move/": CLINICIANS,
    "/staff/sessions/<uuid:session_id>/pre-assessment/": CLINICIANS,
    "/staff/sessions/<uuid:session_id>/pre-assessment/vitals/": CLINICIANS,
    "/staff/sessions/<uuid:session_id>/pre-assessment/acknowledge/": PHYSICIANS,
    "/staff/sessions/<uuid:session_id>/dose/order/": PHYSICIANS,
    "/staff/sessions/<uuid:session_id>/dose/calculate/": PHYSICIANS,
    "/staff/sessions/<uuid:session_id>/dose/administer/": CLINICIANS,
    "/staff/sessions/<uuid:session_id>/dose/correct/": CLINICIANS,
    "/staff/sessions/<uuid:session_id>/flowsheet/": CLINICIANS,
    "/staff/sessions/<uuid:session_id>/readings/": CLINICIANS,
    "/staff/sessions/<uuid:session_id>/readings/<uuid:reading_id>/error/": CLINICIANS,
    "/staff/sessions/<uuid:session_id>/alerts/<uuid:alert_id>/acknowledge/": CLINICIANS,
    "/staff/sessions/<uuid:session_id>/events/": CLINICIANS,
    "/staff/sessions/<uuid:session_id>/events/<uuid:event_id>/error/": CLINICIANS,
    "/staff/sessions/<uuid:session_id>/discharge/": CLINICIANS,
    "/staff/sessions/<uuid:session_id>/summary/": CLINICIANS,
    "/staff/sessions/<uuid:session_id>/aftercare/": CLINICIANS,
    "/staff/sessions/<uuid:session_id>/rems/kind/": CLINICIANS,
    "/staff/sessions/<uuid:session_id>/rems/enrolment/": CLINICIANS,
    "/staff/sessions/<uuid:session_id>/rems/dose/": CLINICIANS,
    "/staff/sessions/<uuid:session_id>/rems/assessments/": CLINICIANS,
    "/staff/sessions/rems/forms/<uuid:form_id>/": CLINICIANS,
    "/staff/sessions/rems/forms/<uuid:form_id>/submitted/": CLINICIANS,
    "/api/v1/appointments/<uuid:appointment_id>/session/": CLINICIANS,
    "/api/v1/sessions/<uuid:session_id>/": CLINICIANS,
    "/api/v1/sessions/<uuid:session_id>/transition/": CLINICIANS,
    "/api/v1/sessions/<uuid:session_id>/pre-assessment/": CLINICIANS,
    "/api/v1/sessions/<uuid:session_id>/dose-orders/": PHYSICIANS,
    "/api/v1/sessions/<uuid:session_id>/administration/": CLINICIANS,
    "/api/v1/sessions/<uuid:session_id>/readings/": CLINICIANS,
    "/api/v1/sessions/<uuid:session_id>/readings/batch/": CLINICIANS,
    "/api/v1/sessions/<uuid:session_id>/alerts/": CLINICIANS,
    "/api/v1/sessions/<uuid:session_id>/alerts/<uuid:alert_id>/acknowledge/": CLINICIANS,
    "/api/v1/sessions/<uuid:session_id>/events/": CLINICIANS,
    "/api/v1/sessions/<uuid:session_id>/discharge/": CLINICIANS,
    # A patient's whole record as FHIR: clinical detail, for those who treat.
    "/fhir/R4/Patient/<uuid:public_id>/$everything": CLINICIANS,
    # The bulk export: its status and files, for the clinic admin who started it.
    "/fhir/R4/$export-status/<uuid:job_id>": {"alice"},
    "/fhir/R4/$export-files/<uuid:job_id>/<str:file_name>": {"alice"},
    "/staff/data-export/<uuid:job_id>/cancel/": {"alice"},
    # The controlled-substance ledger: read by clinic admins too, written by those who handle
    # the drug.
    "/staff/ledger/lots/<uuid:lot_id>/": LEDGER_READERS,
    "/staff/ledger/lots/<uuid:lot_id>/waste/": CLINICIANS,
    "/staff/ledger/lots/<uuid:lot_id>/adjustments/": CLINICIANS,
    "/staff/ledger/lots/<uuid:lot_id>/counts/": CLINICIANS,
    "/staff/ledger/inventories/<uuid:inventory_id>/": LEDGER_READERS,
    "/staff/ledger/lots/<uuid:lot_id>/destroy/": CLINICIANS,
    "/staff/ledger/incidents/<uuid:incident_id>/": LEDGER_READERS,
    "/staff/ledger/inventories/take/<uuid:location_id>/": CLINICIANS,
    "/api/v1/ledger/lots/<uuid:lot_id>/": LEDGER_READERS,
    "/api/v1/ledger/lots/<uuid:lot_id>/entries/": LEDGER_READERS,
    "/api/v1/ledger/lots/<uuid:lot_id>/waste/": CLINICIANS,
    "/api/v1/ledger/lots/<uuid:lot_id>/adjustments/": CLINICIANS,
    "/api/v1/ledger/lots/<uuid:lot_id>/counts/": CLINICIANS,
    "/api/v1/dea/inventories/<uuid:inventory_id>/": LEDGER_READERS,
    "/api/v1/dea/loss-incidents/<uuid:incident_id>/": LEDGER_READERS,
    # The DEA notice and Form 106: the registrant (a physician) or a clinic admin.
    "/api/v1/dea/loss-incidents/<uuid:incident_id>/steps/": {"phil", "alice"},
    # The public site's content.
    "/staff/content/faq/<uuid:public_id>/": CONTENT_EDITORS,
    "/staff/content/faq/<uuid:public_id>/move/": CONTENT_EDITORS,
    "/staff/content/faq/<uuid:public_id>/preview/": CONTENT_EDITORS,
    "/staff/content/faq/<uuid:public_id>/publish/": CONTENT_EDITORS,
    "/staff/content/faq/<uuid:public_id>/unpublish/": CONTENT_EDITORS,
    "/staff/content/faq/<uuid:public_id>/revisions/": CONTENT_EDITORS,
    "/staff/content/faq/<uuid:public_id>/revisions/diff/": CONTENT_EDITORS,
    "/staff/content/faq/<uuid:public_id>/revisions/<int:number>/restore/": CONTENT_EDITORS,
    "/staff/content/articles/<uuid:public_id>/": CONTENT_EDITORS,
    "/staff/content/articles/<uuid:public_id>/preview/": CONTENT_EDITORS,
    "/staff/content/articles/<uuid:public_id>/publish/": CONTENT_EDITORS,
    "/staff/content/articles/<uuid:public_id>/unpublish/": CONTENT_EDITORS,
    "/staff/content/articles/<uuid:public_id>/revisions/": CONTENT_EDITORS,
    "/staff/content/articles/<uuid:public_id>/revisions/diff/": CONTENT_EDITORS,
    "/staff/content/articles/<uuid:public_id>/revisions/<int:number>/restore/": CONTENT_EDITORS,
    "/api/v1/content/editor/faq/<uuid:entry_id>/": CONTENT_EDITORS,
    "/api/v1/content/editor/faq/<uuid:entry_id>/publish/": CONTENT_EDITORS,
    "/api/v1/content/editor/faq/<uuid:entry_id>/unpublish/": CONTENT_EDITORS,
    "/api/v1/content/editor/articles/<uuid:article_id>/": CONTENT_EDITORS,
    "/api/v1/content/editor/articles/<uuid:article_id>/publish/": CONTENT_EDITORS,
    "/api/v1/content/editor/articles/<uuid:article_id>/unpublish/": CONTENT_EDITORS,
    # Locations: everyone who works with patients looks them up; the clinic admin runs them.
    "/staff/locations/<uuid:location_id>/": CLINIC_STAFF,
    "/staff/locations/<uuid:location_id>/edit/": CLINIC_ADMINS,
    "/staff/locations/<uuid:location_id>/hours/": CLINIC_ADMINS,
    "/staff/locations/<uuid:location_id>/deactivate/": CLINIC_ADMINS,
    "/staff/locations/<uuid:location_id>/reactivate/": CLINIC_ADMINS,
    "/staff/locations/<uuid:location_id>/closures/new/": CLINIC_ADMINS,
    "/staff/locations/<uuid:location_id>/closures/<int:closure_id>/remove/": CLINIC_ADMINS,
    "/staff/locations/<uuid:location_id>/chairs/new/": CLINIC_ADMINS,
    "/staff/locations/<uuid:location_id>/chairs/<uuid:chair_id>/rename/": CLINIC_ADMINS,
    "/staff/locations/<uuid:location_id>/chairs/<uuid:chair_id>/deactivate/": CLINIC_ADMINS,
    "/staff/locations/<uuid:location_id>/chairs/<uuid:chair_id>/reactivate/": CLINIC_ADMINS,
    "/api/v1/locations/<uuid:location_id>/": CLINIC_STAFF,
    # Staff accounts: everyone's own tokens, sessions and passkeys (looked up among their
    # own only); everyone else's are the clinic admin's.
    "/staff/accounts/me/tokens/<uuid:token_id>/revoke/": set(SIGNED_IN),
    "/staff/accounts/me/sessions/<uuid:session_id>/revoke/": set(SIGNED_IN),
    "/staff/accounts/me/second-factor/passkeys/<slug:passkey_ref>/remove/": set(SIGNED_IN),
    "/staff/accounts/<uuid:public_id>/": CLINIC_ADMINS,
    "/staff/accounts/<uuid:public_id>/deactivate/": CLINIC_ADMINS,
    "/staff/accounts/<uuid:public_id>/reactivate/": CLINIC_ADMINS,
    "/staff/accounts/<uuid:public_id>/unlock/": CLINIC_ADMINS,
    "/staff/accounts/<uuid:public_id>/tokens/<uuid:token_id>/revoke/": CLINIC_ADMINS,
    "/staff/accounts/<uuid:public_id>/sessions/<uuid:session_id>/revoke/": CLINIC_ADMINS,
    "/staff/accounts/<uuid:public_id>/sessions/revoke-all/": CLINIC_ADMINS,
    "/staff/accounts/<uuid:public_id>/second-factor-reset/": CLINIC_ADMINS,
    "/staff/accounts/<uuid:public_id>/password-link/": CLINIC_ADMINS,
    # Billing: the front desk issues invoices and takes payments; money going back (refunds,
    # credit notes, voids) is a clinic admin's decision.
    "/staff/billing/patients/<uuid:patient_id>/": BILLING,
    "/staff/billing/patients/<uuid:patient_id>/payments/": BILLING,
    "/staff/billing/invoices/<uuid:invoice_id>/": BILLING,
    "/staff/billing/invoices/<uuid:invoice_id>/visit-price/": BILLING,
    "/staff/billing/invoices/<uuid:invoice_id>/lines/": BILLING,
    "/staff/billing/invoices/<uuid:invoice_id>/lines/<int:line_id>/remove/": BILLING,
    "/staff/billing/invoices/<uuid:invoice_id>/issue/": BILLING,
    "/staff/billing/invoices/<uuid:invoice_id>/pay/": BILLING,
    "/staff/billing/invoices/<uuid:invoice_id>/credit/": CLINIC_ADMINS,
    "/staff/billing/invoices/<uuid:invoice_id>/void/": CLINIC_ADMINS,
    "/staff/billing/invoices/<uuid:invoice_id>/payments/<uuid:payment_id>/refund/": CLINIC_ADMINS,
    "/staff/billing/patients/<uuid:patient_id>/card/": BILLING,
    "/staff/billing/patients/<uuid:patient_id>/card/<uuid:setup_id>/done/": BILLING,
    "/staff/billing/patients/<uuid:patient_id>/card/remove/": BILLING,
    "/staff/billing/invoices/<uuid:invoice_id>/charge-card/": BILLING,
    "/staff/billing/invoices/<uuid:invoice_id>/pay-by-card/": BILLING,
    "/staff/billing/invoices/<uuid:invoice_id>/pay-by-card/<uuid:charge_id>/done/": BILLING,
    # The billing API: the desk issues and takes payments; voids and refunds are an admin's;
    # a patient's balance is for everyone who works with patients, as on the chart.
    "/api/v1/invoices/<uuid:invoice_id>/": BILLING,
    "/api/v1/invoices/<uuid:invoice_id>/issue/": BILLING,
    "/api/v1/invoices/<uuid:invoice_id>/void/": CLINIC_ADMINS,
    "/api/v1/invoices/<uuid:invoice_id>/payments/": BILLING,
    "/api/v1/invoices/<uuid:invoice_id>/payments/<uuid:payment_id>/refunds/": CLINIC_ADMINS,
    "/api/v1/patients/<uuid:patient_id>/balance/": CLINIC_STAFF,
    "/staff/billing/patients/<uuid:patient_id>/card/send-link/": BILLING,
    "/staff/billing/fees/<uuid:fee_id>/charge/": BILLING,
    # A deposit the visit did not use is given back by whoever may correct the books.
    "/staff/billing/invoices/<uuid:invoice_id>/give-back-deposit/": CLINIC_ADMINS,
    "/staff/billing/fees/<uuid:fee_id>/waive/": BILLING,
    "/staff/billing/booking-policies/<uuid:location_id>/": CLINIC_ADMINS,
    # The superbill: the front desk's and clinic admins', like the invoices it is read from.
    "/staff/billing/invoices/<uuid:invoice_id>/superbill/": BILLING,
    "/staff/billing/patients/<uuid:patient_id>/superbill/": BILLING,
    "/staff/billing/superbill-codes/practice/<uuid:location_id>/": CLINIC_ADMINS,
    "/staff/billing/superbill-codes/services/<uuid:code_id>/": CLINIC_ADMINS,
    "/staff/billing/superbill-codes/diagnoses/<str:condition>/": CLINIC_ADMINS,
    # Packages: the front desk sells them; the offers are the clinic admin's; clinicians see
    # what is left on the chart only.
    "/staff/billing/patients/<uuid:patient_id>/packages/": BILLING,
    "/staff/billing/patients/<uuid:patient_id>/packages/sell/": BILLING,
    "/api/v1/patients/<uuid:patient_id>/packages/": BILLING,
    "/staff/billing/packages/<uuid:offer_id>/": CLINIC_ADMINS,
    "/staff/billing/packages/<uuid:offer_id>/retire/": CLINIC_ADMINS,
}
# The routes above that do not answer GET, with the method they are asked with instead (the
# test checks that GET is refused with 405 for someone the row lets in).
ASKED_WITH: dict[str, str] = {
    "/staff/patients/<uuid:patient_id>/intake/link/": "POST",
    "/staff/patients/<uuid:patient_id>/consent/link/": "POST",
    "/staff/patients/<uuid:patient_id>/screening/run/": "POST",
    "/staff/patients/<uuid:patient_id>/medications/confirm/": "POST",
    "/staff/schedule/appointments/<uuid:appointment_id>/<str:action>/": "POST",
    "/staff/schedule/courses/<uuid:course_id>/complete/": "POST",
    "/staff/sessions/appointment/<uuid:appointment_id>/": "POST",
    "/staff/sessions/<uuid:session_id>/move/": "POST",
    "/staff/sessions/<uuid:session_id>/pre-assessment/": "POST",
    "/staff/sessions/<uuid:session_id>/pre-assessment/vitals/": "POST",
    "/staff/sessions/<uuid:session_id>/pre-assessment/acknowledge/": "POST",
    "/staff/sessions/<uuid:session_id>/dose/order/": "POST",
    "/staff/sessions/<uuid:session_id>/dose/calculate/": "POST",
    "/staff/sessions/<uuid:session_id>/dose/administer/": "POST",
    "/staff/sessions/<uuid:session_id>/dose/correct/": "POST",
    "/staff/sessions/<uuid:session_id>/readings/": "POST",
    "/staff/sessions/<uuid:session_id>/alerts/<uuid:alert_id>/acknowledge/": "POST",
    "/staff/sessions/<uuid:session_id>/events/": "POST",
    "/staff/sessions/<uuid:session_id>/discharge/": "POST",
    "/staff/sessions/<uuid:session_id>/rems/kind/": "POST",
    "/staff/sessions/<uuid:session_id>/rems/enrolment/": "POST",
    "/staff/sessions/<uuid:session_id>/rems/dose/": "POST",
    "/staff/sessions/<uuid:session_id>/rems/assessments/": "POST",
    "/staff/sessions/rems/forms/<uuid:form_id>/submitted/": "POST",
    "/staff/ledger/lots/<uuid:lot_id>/waste/": "POST",
    "/staff/ledger/lots/<uuid:lot_id>/adjustments/": "POST",
    "/staff/ledger/lots/<uuid:lot_id>/counts/": "POST",
    "/api/v1/dea/loss-incidents/<uuid:incident_id>/steps/": "POST",
    "/staff/content/faq/<uuid:public_id>/move/": "POST",
    "/staff/locations/<uuid:location_id>/reactivate/": "POST",
    "/staff/locations/<uuid:location_id>/chairs/<uuid:chair_id>/reactivate/": "POST",
    "/staff/accounts/me/sessions/<uuid:session_id>/revoke/": "POST",
    "/staff/accounts/me/second-factor/passkeys/<slug:passkey_ref>/remove/": "POST",
    "/staff/accounts/<uuid:public_id>/unlock/": "POST",
    "/staff/accounts/<uuid:public_id>/tokens/<uuid:token_id>/revoke/": "POST",
    "/staff/accounts/<uuid:public_id>/sessions/<uuid:session_id>/revoke/": "POST",
    "/staff/accounts/<uuid:public_id>/sessions/revoke-all/": "POST",
    "/staff/accounts/<uuid:public_id>/password-link/": "POST",
    "/api/v1/appointments/<uuid:appointment_id>/status/": "POST",
    "/api/v1/appointments/<uuid:appointment_id>/cancel/": "POST",
    "/api/v1/appointments/<uuid:appointment_id>/undo/": "POST",
    "/api/v1/appointments/<uuid:appointment_id>/reschedule/": "POST",
    "/api/v1/courses/<uuid:course_id>/complete/": "POST",
    "/api/v1/courses/<uuid:course_id>/discontinue/": "POST",
    "/api/v1/appointments/<uuid:appointment_id>/session/": "POST",
    "/api/v1/sessions/<uuid:session_id>/transition/": "POST",
    "/api/v1/sessions/<uuid:session_id>/dose-orders/": "POST",
    "/api/v1/sessions/<uuid:session_id>/administration/": "POST",
    "/api/v1/sessions/<uuid:session_id>/readings/batch/": "POST",
    "/api/v1/sessions/<uuid:session_id>/alerts/<uuid:alert_id>/acknowledge/": "POST",
    "/api/v1/ledger/lots/<uuid:lot_id>/waste/": "POST",
    "/api/v1/ledger/lots/<uuid:lot_id>/adjustments/": "POST",
    "/api/v1/ledger/lots/<uuid:lot_id>/counts/": "POST",
    "/api/v1/content/editor/faq/<uuid:entry_id>/publish/": "POST",
    "/api/v1/content/editor/faq/<uuid:entry_id>/unpublish/": "POST",
    "/api/v1/content/editor/articles/<uuid:article_id>/publish/": "POST",
    "/api/v1/content/editor/articles/<uuid:article_id>/unpublish/": "POST",
    "/api/v1/sessions/<uuid:session_id>/pre-assessment/": "PATCH",
    "/staff/billing/invoices/<uuid:invoice_id>/visit-price/": "POST",
    "/staff/billing/invoices/<uuid:invoice_id>/lines/": "POST",
    "/staff/billing/invoices/<uuid:invoice_id>/lines/<int:line_id>/remove/": "POST",
    "/staff/billing/patients/<uuid:patient_id>/card/": "POST",
    "/api/v1/invoices/<uuid:invoice_id>/issue/": "POST",
    "/api/v1/invoices/<uuid:invoice_id>/void/": "POST",
    "/api/v1/invoices/<uuid:invoice_id>/payments/": "POST",
    "/api/v1/invoices/<uuid:invoice_id>/payments/<uuid:payment_id>/refunds/": "POST",
    "/staff/billing/patients/<uuid:patient_id>/card/send-link/": "POST",
}
# Routes above that also take a write whose rule is not the read's: the write's own row.
WRITES_WITH_IDS: dict[str, tuple[str, set[str]]] = {
    "/api/v1/patients/<uuid:patient_id>/": ("PATCH", CLINIC_STAFF),
    "/api/v1/patients/<uuid:patient_id>/intakes/": ("POST", CLINICIANS),
    "/api/v1/patients/<uuid:patient_id>/measurements/": ("POST", CLINICIANS),
    "/api/v1/patients/<uuid:patient_id>/questionnaires/": ("POST", CLINICIANS),
    "/api/v1/patients/<uuid:patient_id>/decisions/": ("POST", PHYSICIANS),
    "/api/v1/courses/<uuid:course_id>/booster/": ("POST", CLINICIANS),
    "/api/v1/waitlist/<uuid:entry_id>/": ("DELETE", CLINIC_STAFF),
    "/api/v1/sessions/<uuid:session_id>/readings/": ("POST", CLINICIANS),
    "/api/v1/sessions/<uuid:session_id>/events/": ("POST", CLINICIANS),
    "/api/v1/sessions/<uuid:session_id>/discharge/": ("POST", CLINICIANS),
    "/api/v1/content/editor/faq/<uuid:entry_id>/": ("PUT", CONTENT_EDITORS),
    "/api/v1/content/editor/articles/<uuid:article_id>/": ("PUT", CONTENT_EDITORS),
}
# Rows whose view looks nothing up before it answers someone the row lets in: the answer it
# gives instead of the 404, and why.
ANSWER_WITHOUT_A_RECORD: dict[str, tuple[int, str]] = {
    "/staff/accounts/me/second-factor/passkeys/<slug:passkey_ref>/remove/": (
        302,
        "the service looks the passkey up among the person's own only, and says so on the "
        "page it sends them back to (the test of someone else's passkey below)",
    ),
}
# Rows whose role check is finer than the view's first one and runs once the record is found:
# the personas the first check lets through to the lookup (so they get its 404 here), and the
# test module that shows them refused with a real record. Fine where the first check already
# lets them see the record: the 404 tells them nothing they could not read anyway.
REFUSED_WITH_THE_RECORD: dict[str, tuple[set[str], str]] = {
    # Every session endpoint of the API lets in those who see sessions (VIEW_CLINICAL); the
    # service refuses an order from anyone but a physician, once it has the session.
    "/api/v1/sessions/<uuid:session_id>/dose-orders/": (
        {"nina"},
        "infusions/tests/test_api_sessions.py::test_a_nurse_cannot_sign_an_order",
    ),
    # Those who read the ledger reach an incident; the service lets only the registrant
    # physician or a clinic admin record the DEA reports.
    "/api/v1/dea/loss-incidents/<uuid:incident_id>/steps/": (
        {"nina"},
        "infusions/tests/test_api_dea.py::test_a_nurse_cannot_record_the_dea_reports",
    ),
}


VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"}


class _NavLinks(HTMLParser):
    """Collects the text of the links inside the element with data-testid="staff-nav"."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self._depth = 0  # open elements inside the nav, 0 when outside it
        self._in_link = False
        self.found = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID_ELEMENTS:
            return
        if self._depth:
            self._depth += 1
        elif ("data-testid", "staff-nav") in attrs:
            self._depth = 1
            self.found = True
        if self._depth and tag == "a":
            self._in_link = True
            self.links.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID_ELEMENTS:
            return
        if tag == "a":
            self._in_link = False
        if self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._in_link:
            self.links[-1] += data


def staff_navigation(html: str) -> list[str]:
    parser = _NavLinks()
    parser.feed(html)
    return [" ".join(text.split()) for text in parser.links]


@pytest.fixture
def signed_in_client(request: pytest.FixtureRequest, client, db):
    """A test client signed in as the persona named by the test's ``persona`` parameter."""

    def sign_in(persona: str):
        if persona != "anonymous":
            user = request.getfixturevalue(persona)
            client.force_login(user, backend="clinic.auth.EmailBackend")
        return client

    return sign_in


@pytest.mark.parametrize("persona", PERSONAS)
def test_it_shows_each_persona_exactly_the_navigation_of_their_roles(signed_in_client, persona):
    client = signed_in_client(persona)

    response = client.get("/staff/", follow=True)

    assert response.status_code == 200
    assert staff_navigation(response.content.decode()) == NAVIGATION[persona]


@pytest.mark.parametrize("url", list(ALLOWED))
@pytest.mark.parametrize("persona", PERSONAS)
def test_it_lets_each_persona_reach_only_the_pages_of_their_roles(signed_in_client, persona, url):
    client = signed_in_client(persona)

    response = client.get(url)

    if persona in ALLOWED[url]:
        assert response.status_code == 200
    elif url == "/admin/":
        # Django admin sends everyone it refuses to its own sign-in page.
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    elif url.startswith(API_PREFIXES):
        expected = {403} if persona in SIGNED_IN else {401, 403}
        assert response.status_code in expected
    elif persona in SIGNED_IN:
        assert response.status_code == 403
    else:
        assert response.status_code == 302
        assert response["Location"] == f"/staff/login/?next={quote(url)}"


def test_the_navigation_parser_reads_links_inside_the_staff_nav_only():
    html = """
      <a href="/">Outside</a>
      <ul data-testid="staff-nav">
        <li><a href="/staff/"><img src="h.svg" alt="">Home</a></li>
        <li><a href="/staff/audit/"> Audit
            log </a><br></li>
      </ul>
      <a href="/x/">After</a>
    """

    assert staff_navigation(html) == ["Home", "Audit log"]


def test_a_deactivated_account_cannot_sign_in(client, olga):
    response = client.post("/staff/login/", {"username": olga.email, "password": PASSWORD})

    assert response.status_code == 200
    assert "do not match an active staff account" in response.content.decode()
    assert client.get("/staff/").status_code == 302


# Every request the test below makes: (route, method, who may), reads and writes.
ROWS_WITH_IDS = [
    *(
        (route, ASKED_WITH.get(route, "GET"), allowed)
        for route, allowed in ALLOWED_WITH_IDS.items()
    ),
    *((route, method, allowed) for route, (method, allowed) in WRITES_WITH_IDS.items()),
]


def ask(client: Client, method: str, url: str) -> HttpResponse:
    if method == "GET":
        return client.get(url)
    if url.startswith(API_PREFIXES):
        return client.generic(method, url, "{}", content_type="application/json")
    return client.generic(method, url)


def answer_in_words(response: HttpResponse, url: str) -> str | int:
    if response.status_code == 302 and response["Location"] == f"/staff/login/?next={quote(url)}":
        return "sign-in page"
    if response.status_code == 401:
        return "not signed in"
    if response.status_code == 403:
        return "refused"
    return response.status_code


def expected_answer(persona: str, route: str, method: str, allowed: set[str]) -> str | int:
    if persona in allowed:
        return ANSWER_WITHOUT_A_RECORD.get(route, (404, ""))[0]
    let_through_to_the_lookup = REFUSED_WITH_THE_RECORD.get(route, (set(), ""))[0]
    if persona in let_through_to_the_lookup and method == ASKED_WITH.get(route, "GET"):
        return 404
    if persona in SIGNED_IN:
        return "refused"
    return "not signed in" if route.startswith(API_PREFIXES) else "sign-in page"


@pytest.mark.parametrize("persona", PERSONAS)
def test_it_checks_the_role_before_it_looks_up_the_record(signed_in_client, persona):
    # One persona against every route, so the personas are set up once, not once a route.
    client = signed_in_client(persona)
    wrong = []

    for route, method, allowed in ROWS_WITH_IDS:
        url = example_url(route)
        answer = answer_in_words(ask(client, method, url), url)
        expected = expected_answer(persona, route, method, allowed)
        if answer != expected:
            wrong.append(f"{method} {route}: {answer}, not {expected}")
        refuses_get = method == ASKED_WITH.get(route) and persona in allowed
        if refuses_get and client.get(url).status_code != 405:
            wrong.append(f"GET {route} is not refused with 405: take it out of ASKED_WITH")

    assert not wrong, f"{persona} gets a wrong answer from:\n" + "\n".join(wrong)


def test_nobody_removes_someone_elses_passkey(client, nina, phil):
    passkey = WebAuthnCredential.objects.create(
        user=phil, name="Phil's phone", confirmed=True, credential_id=b"p", public_key=b"k"
    )
    client.force_login(nina, backend="clinic.auth.EmailBackend")

    url = f"/staff/accounts/me/second-factor/passkeys/{passkey.credential_id_sha256}/remove/"
    response = client.post(url, follow=True)

    assert "That passkey is not one of yours" in response.content.decode()
    assert WebAuthnCredential.objects.filter(pk=passkey.pk).exists()


def test_every_route_in_the_urlconf_has_a_row():
    missing = []
    for route in all_routes():
        if route.route.startswith(ADMIN_PREFIX):
            continue
        url = "/" + route.route
        if url not in ALLOWED and url not in ALLOWED_WITH_IDS and url not in NOT_IN_THE_MATRIX:
            missing.append(f"{url} ({route.name})")
    assert not missing, (
        "These routes have no row in tests/test_access_matrix.py: add one to ALLOWED or "
        "ALLOWED_WITH_IDS (who may open it), or to NOT_IN_THE_MATRIX with the reason: "
        + ", ".join(missing)
    )


def test_a_route_has_one_row_only():
    tables = [ALLOWED, ALLOWED_WITH_IDS, NOT_IN_THE_MATRIX]
    twice = [
        url
        for url in {*ALLOWED, *ALLOWED_WITH_IDS, *NOT_IN_THE_MATRIX}
        if sum(url in table for table in tables) > 1
    ]
    assert not twice, f"Routes with more than one row: {twice}"


def test_the_matrix_has_no_row_for_a_route_that_is_gone():
    urls = {"/" + route.route for route in all_routes()}
    rows = [*ALLOWED, *ALLOWED_WITH_IDS, *NOT_IN_THE_MATRIX]
    stale = [url for url in rows if url not in urls]
    assert not stale, f"Rows for routes that no longer exist: {stale}"
    notes = [*ASKED_WITH, *WRITES_WITH_IDS, *ANSWER_WITHOUT_A_RECORD, *REFUSED_WITH_THE_RECORD]
    orphans = [url for url in notes if url not in ALLOWED_WITH_IDS]
    assert not orphans, f"Notes on routes that have no row in ALLOWED_WITH_IDS: {orphans}"
