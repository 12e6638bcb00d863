"""Requests that used to end in a 500: NUL characters anywhere in the address or a form,
a JSON body nested a thousand levels deep, OPTIONS on the API, and an OpenAPI schema that
disagreed with what the API sends."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from clinic.models import AuditEvent
from content import services as content_services
from content.models import FaqCategory, FaqRevision
from infusions.tests.factories import infusion_session
from patients.models import Measurement, Patient
from patients.tests.factories import PatientFactory
from scheduling.models import Appointment
from tests.api_tokens import api_key_for

NUL_MESSAGE = "contained a NUL character (%00)"

# Every page or API list that reads request.GET straight (grep request.GET), with a NUL in it.
NUL_IN_QUERY = [
    "/faq/?q=a%00b",
    "/learn/?q=a%00b",
    "/staff/patients/?q=a%00b",
    "/staff/patients/?page=1%00",
    "/staff/schedule/?location=%00",
    "/staff/schedule/waitlist/?page=%00",
    "/staff/schedule/book/?patient=a%00b",
    "/staff/schedule/courses/new/?patient=%00",
    "/staff/ledger/?page=%00",
    "/staff/ledger/export/?start=%00",
    "/staff/outcomes/?location=%00",
    "/staff/accounts/?q=%00",
    "/staff/audit/?actor=%00",
    "/staff/locations/?q=%00",
    "/staff/content/faq/?q=a%00b",
    "/staff/content/articles/?q=a%00b",
    "/staff/patients/consent-documents/?page=%00",
    "/book/?week=%00",
    "/api/v1/patients/?q=a%00b",
    "/api/v1/appointments/?location=%00",
    "/api/v1/content/faq/?q=a%00b",
    "/a%00b/?x=1",
]


@pytest.mark.parametrize("url", NUL_IN_QUERY)
def test_a_nul_character_in_the_address_is_a_clear_400_for_every_page(client, alice, url):
    client.force_login(alice)

    response = client.get(url)

    assert response.status_code == 400
    if url.startswith("/api/"):
        assert NUL_MESSAGE in response.json()["detail"]
    else:
        assert NUL_MESSAGE in response.content.decode()


def test_the_public_faq_search_refuses_a_nul_without_signing_in(client, db):
    response = client.get("/faq/?q=a%00b")

    assert response.status_code == 400
    assert "Remove it and try again" in response.content.decode()


def test_a_nul_character_in_a_token_link_is_a_400(client, db):
    assert client.get("/p/intake/abc%00def/").status_code == 400


def test_a_nul_character_in_a_posted_form_changes_nothing(client, fran):
    client.force_login(fran)
    before = AuditEvent.objects.count()

    response = client.post("/staff/patients/new/", {"legal_first_name": "Jo\x00rdan"})

    assert response.status_code == 400
    assert NUL_MESSAGE in response.content.decode()
    assert AuditEvent.objects.count() == before


def test_a_query_without_nul_goes_through(client, db):
    assert client.get("/faq/?q=ketamine").status_code == 200


# --- JSON nested too deeply -------------------------------------------------------------------

TOO_DEEP_MESSAGE = (
    "The JSON body is nested more than 32 levels deep. Nothing was saved: send the fields as "
    "the API schema describes them, with objects and arrays nested at most 32 levels deep."
)


def nested(depth: int) -> str:
    """A list inside a list … ``depth`` levels deep, as JSON text."""
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [33, 1_100, 100_000])
def test_a_json_body_nested_too_deeply_is_a_clear_400_on_every_write_and_saves_nothing(
    client, fran, nina, edie, faq_entry, depth
):
    patient = PatientFactory(legal_first_name="Robin")
    base = f"/api/v1/patients/{patient.public_id}/"
    writes = [
        (fran, "post", "/api/v1/patients/", '{"legal_first_name": "Dana", "conditions": %s}'),
        (fran, "patch", base, '{"legal_first_name": %s}'),
        (nina, "post", f"{base}measurements/", '{"systolic": 124, "notes": %s}'),
        (edie, "put", f"/api/v1/content/editor/faq/{faq_entry.public_id}/", '{"answer": %s}'),
        (fran, "post", "/api/v1/appointments/", "%s"),
    ]
    keys = {user: api_key_for(user) for user in (fran, nina, edie)}
    counts = [
        Patient.objects.count(),
        Measurement.objects.count(),
        Appointment.objects.count(),
        FaqRevision.objects.count(),
        AuditEvent.objects.count(),
    ]

    for user, method, url, body in writes:
        response = getattr(client, method)(
            url,
            body % nested(depth),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Token {keys[user]}",
        )
        assert response.status_code == 400, (url, response.status_code)
        assert response.json() == {"detail": TOO_DEEP_MESSAGE}, url

    assert [
        Patient.objects.count(),
        Measurement.objects.count(),
        Appointment.objects.count(),
        FaqRevision.objects.count(),
        AuditEvent.objects.count(),
    ] == counts
    patient.refresh_from_db()
    assert patient.legal_first_name == "Robin"


def test_a_body_nested_as_deep_as_allowed_goes_on_to_the_usual_field_errors(client, fran):
    response = client.post(
        "/api/v1/patients/",
        '{"legal_first_name": "Dana", "conditions": ' + nested(31) + "}",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Token {api_key_for(fran)}",
    )

    assert response.status_code == 400
    assert "conditions" in response.json()


# --- OPTIONS on the API ----------------------------------------------------------------------


@pytest.fixture
def faq_entry(edie):
    category = FaqCategory.objects.create(name="Visits", slug="visits")
    return content_services.faq_save(
        actor=edie, category=category, question="How long?", answer="Two hours."
    )


@pytest.fixture
def article(edie):
    return content_services.article_save(
        actor=edie, title="After", slug="after-options", summary="S", body="Rest."
    )


def test_options_describes_the_editor_endpoints(client, edie, faq_entry, article):
    client.force_login(edie)

    for url in (
        f"/api/v1/content/editor/faq/{faq_entry.public_id}/",
        f"/api/v1/content/editor/articles/{article.public_id}/",
        "/api/v1/content/editor/faq/",
    ):
        response = client.options(url)
        assert response.status_code == 200, url
        assert response.json()["schema"] == "/api/schema/"
        assert "PUT" in response.json()["allowed_methods"] or url.endswith("/faq/")


def test_options_on_a_session_pre_assessment_reads_no_record(client, nina, phil):
    session = infusion_session(nina, phil)
    client.force_login(nina)
    before = AuditEvent.objects.count()

    response = client.options(f"/api/v1/sessions/{session.public_id}/pre-assessment/")

    assert response.status_code == 200
    assert set(response.json()["allowed_methods"]) >= {"PUT", "PATCH"}
    assert AuditEvent.objects.count() == before


def test_options_still_needs_credentials(client, db):
    assert client.options("/api/v1/patients/").status_code in {401, 403}


# --- The schema says what the API sends ---------------------------------------------------------


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    from django.test import Client

    with django_db_blocker.unblock():
        response = Client().get(reverse("api-schema"), {"format": "json"})
    return json.loads(response.content)


def test_every_operation_declares_400_401_403_and_404_with_the_error_body(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            if method not in {"get", "put", "patch", "post", "delete"}:
                continue
            missing = {"400", "401", "403", "404"} - set(operation["responses"])
            assert not missing, f"{method.upper()} {path} does not declare {sorted(missing)}"
    assert schema["components"]["schemas"]["Error"]["required"] == ["detail"]


def test_emails_that_may_be_empty_are_not_declared_as_email_addresses(schema):
    schemas = schema["components"]["schemas"]
    for name in ("Patient", "Location"):
        assert "format" not in schemas[name]["properties"]["email"]


def test_times_of_day_are_declared_as_the_api_writes_them(schema):
    opens_at = schema["components"]["schemas"]["OpeningHours"]["properties"]["opens_at"]
    assert "format" not in opens_at
    assert opens_at["type"] == "string"
    assert re.match(opens_at["pattern"], "08:00:00")


def test_a_lot_balance_in_ml_is_declared_as_the_decimal_string_it_is(schema):
    balance_ml = schema["components"]["schemas"]["Lot"]["properties"]["balance_ml"]
    assert balance_ml["type"] == "string"
    assert balance_ml["format"] == "decimal"
