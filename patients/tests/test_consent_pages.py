"""Consent pages: clinic admins' consent forms, the patient's signing page, and the record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from clinic.models import AuditEvent, Location
from conftest import PASSWORD
from patients.links import link_create
from patients.models import Channel, ConsentDocument, ConsentSignature, PatientLink
from patients.services.consent import (
    consent_document_create_draft,
    consent_document_publish,
    consent_link_create,
    consent_sign,
    infusion_start_allowed,
)
from patients.tests.factories import CommunicationConsentFactory, PatientFactory
from patients.views.consent import consent_chart_context

SECTIONS = [
    {"heading": "What the treatment is", "text": "Ketamine given slowly through a drip."},
    {"heading": "Side effects", "text": "Feeling detached, nausea, dizziness."},
]
PHONE = {"REMOTE_ADDR": "203.0.113.7", "HTTP_USER_AGENT": "PhoneBrowser/1.0 (small screen)"}
# The session and the signed-in user; the paginator's count and the page of versions with
# their signature counts; the current version and the draft. The same however many versions.
LIST_QUERIES = 6


def draft(actor, **overrides) -> ConsentDocument:
    fields = {"title": "Consent to treatment", "introduction": "Please read.", "sections": SECTIONS}
    return consent_document_create_draft(actor=actor, **(fields | overrides))


def published(actor, **overrides) -> ConsentDocument:
    return consent_document_publish(actor=actor, document=draft(actor, **overrides))


def sign_form(document: ConsentDocument, name: str = "Jordan Rivera", ticked=None) -> dict:
    ticked = range(len(document.sections)) if ticked is None else ticked
    return {
        "document": str(document.public_id),
        "signed_name": name,
        **{f"section_{index}": "on" for index in ticked},
    }


def views_of(patient):
    return AuditEvent.objects.filter(
        action=AuditEvent.Action.VIEW, object_id=str(patient.public_id)
    )


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def jordan(db):
    return PatientFactory(legal_first_name="Jordan", legal_last_name="Rivera")


@pytest.fixture
def document(alice) -> ConsentDocument:
    return published(alice)


@pytest.fixture
def consent_link(fran, jordan, document) -> tuple[PatientLink, str]:
    return consent_link_create(actor=fran, patient=jordan)


# --- Consent documents: who may see and change them --------------------------------------


def test_it_sends_anonymous_visitors_to_the_login_page(client, document):
    for url in [
        "/staff/patients/consent-documents/",
        f"/staff/patients/consent-documents/{document.public_id}/",
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/staff/login/")


@pytest.mark.parametrize("persona", ["fran", "nina", "phil", "edie"])
def test_only_clinic_admins_manage_consent_documents(request, signed_in, alice, persona):
    draft_version = draft(alice)
    client = signed_in(request.getfixturevalue(persona))
    base = "/staff/patients/consent-documents"
    for url in [
        f"{base}/",
        f"{base}/new/",
        f"{base}/{draft_version.public_id}/",
        f"{base}/{draft_version.public_id}/edit/",
        f"{base}/{draft_version.public_id}/publish/",
    ]:
        assert client.get(url).status_code == 403, url
    assert client.post(f"{base}/{draft_version.public_id}/publish/").status_code == 403
    draft_version.refresh_from_db()
    assert draft_version.published_at is None


def test_it_lists_every_version_in_a_constant_number_of_queries(
    signed_in, alice, nina, jordan, django_assert_num_queries
):
    first = published(alice)
    consent_sign(
        patient=jordan,
        document=first,
        signed_name="Jordan Rivera",
        sections_acknowledged=[s["heading"] for s in SECTIONS],
        method=ConsentSignature.Method.TABLET,
        ip_address="192.0.2.1",
        user_agent="",
        witnessed_by=nina,
    )
    client = signed_in(alice)
    client.get("/staff/patients/consent-documents/")  # settle the session
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get("/staff/patients/consent-documents/")
    assert response.status_code == 200
    for title in ["Second", "Third", "Fourth"]:
        published(alice, title=title)
    draft(alice, title="Fifth, a draft")
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get("/staff/patients/consent-documents/")
    content = response.content.decode()
    assert "Version 5" in content and "Draft" in content and "Current" in content
    assert "Replaced" in content
    assert "Continue the draft (version 5)" in content


def test_the_list_says_what_to_do_when_there_is_no_consent_form(signed_in, alice):
    response = signed_in(alice).get("/staff/patients/consent-documents/")
    assert 'data-testid="empty-state"' in response.content.decode()
    assert "Write the first version" in response.content.decode()


def formset_data(sections, title="Consent to treatment", introduction="Please read.") -> dict:
    rows = [*sections, {"heading": "", "text": ""}, {"heading": "", "text": ""}]
    data = {
        "title": title,
        "introduction": introduction,
        "sections-TOTAL_FORMS": str(len(rows)),
        "sections-INITIAL_FORMS": "0",
        "sections-MIN_NUM_FORMS": "0",
        "sections-MAX_NUM_FORMS": "40",
    }
    for index, row in enumerate(rows):
        data[f"sections-{index}-heading"] = row["heading"]
        data[f"sections-{index}-text"] = row["text"]
    return data


def test_an_admin_writes_a_draft_and_blank_rows_are_not_sections(signed_in, alice):
    response = signed_in(alice).post(
        "/staff/patients/consent-documents/new/", formset_data(SECTIONS)
    )
    document = ConsentDocument.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/staff/patients/consent-documents/{document.public_id}/"
    assert document.sections == SECTIONS
    assert document.published_at is None
    assert document.version == 1


def test_a_section_without_text_is_refused_with_a_message_and_nothing_saved(signed_in, alice):
    sections = [SECTIONS[0], {"heading": "Risks", "text": ""}]
    response = signed_in(alice).post(
        "/staff/patients/consent-documents/new/", formset_data(sections, title="")
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert "Section 2 (“Risks”) has no text" in content
    assert "Give the consent form a title" in content
    assert not ConsentDocument.objects.exists()


def test_a_new_version_starts_from_the_current_text(signed_in, alice, document):
    response = signed_in(alice).get("/staff/patients/consent-documents/new/")
    content = response.content.decode()
    assert "Starting from the text of version 1" in content
    assert 'value="What the treatment is"' in content
    assert "Ketamine given slowly through a drip." in content


def test_a_new_version_goes_to_the_existing_draft(signed_in, alice, document):
    pending = draft(alice)
    response = signed_in(alice).get("/staff/patients/consent-documents/new/")
    assert response.status_code == 302
    assert response["Location"] == f"/staff/patients/consent-documents/{pending.public_id}/edit/"


def test_an_admin_edits_a_draft(signed_in, alice):
    pending = draft(alice)
    data = formset_data([*SECTIONS, {"heading": "Privacy", "text": "Kept private."}])
    data["title"] = "Consent to ketamine treatment"
    response = signed_in(alice).post(
        f"/staff/patients/consent-documents/{pending.public_id}/edit/", data
    )
    assert response.status_code == 302
    pending.refresh_from_db()
    assert pending.title == "Consent to ketamine treatment"
    assert [s["heading"] for s in pending.sections][-1] == "Privacy"


def test_a_published_version_cannot_be_edited_through_the_page(signed_in, alice, document):
    client = signed_in(alice)
    url = f"/staff/patients/consent-documents/{document.public_id}/edit/"
    response = client.get(url, follow=True)
    assert "Version 1 is published, so it can no longer be changed" in response.content.decode()
    client.post(url, formset_data(SECTIONS, title="Sneaky"))
    document.refresh_from_db()
    assert document.title == "Consent to treatment"


def test_publishing_asks_for_confirmation_first(signed_in, alice, document, jordan, nina):
    consent_sign(
        patient=jordan,
        document=document,
        signed_name="Jordan Rivera",
        sections_acknowledged=[s["heading"] for s in SECTIONS],
        method=ConsentSignature.Method.TABLET,
        ip_address=None,
        user_agent="",
        witnessed_by=nina,
    )
    pending = draft(alice)
    client = signed_in(alice)
    url = f"/staff/patients/consent-documents/{pending.public_id}/publish/"
    response = client.get(url)
    content = response.content.decode()
    assert "Publish version 2?" in content
    assert "every patient must sign version 2 before their next infusion" in content
    assert "1 patient signed version 1" in content
    pending.refresh_from_db()
    assert pending.published_at is None

    response = client.post(url)
    assert response["Location"] == f"/staff/patients/consent-documents/{pending.public_id}/"
    pending.refresh_from_db()
    assert pending.published_at is not None
    assert infusion_start_allowed(jordan)[0] is False


def test_the_detail_page_shows_the_version_history(signed_in, alice, document):
    second = published(alice, title="Revised")
    response = signed_in(alice).get(f"/staff/patients/consent-documents/{document.public_id}/")
    content = response.content.decode()
    assert "Replaced" in content
    assert f"/staff/patients/consent-documents/{second.public_id}/" in content
    assert "Start a new version from this one" in content


# --- Consent links -----------------------------------------------------------------------


def test_the_front_desk_makes_a_consent_link_shown_once(signed_in, fran, jordan, document):
    response = signed_in(fran).post(f"/staff/patients/{jordan.public_id}/consent/link/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    link = PatientLink.objects.get(patient=jordan)
    assert link.purpose == PatientLink.Purpose.CONSENT
    assert link.consent_document == document
    content = response.content.decode()
    assert "http://testserver/p/consent/" in content
    assert views_of(jordan).exists()


def test_a_second_link_to_copy_asks_before_the_first_stops_working(
    signed_in, fran, jordan, document
):
    url = f"/staff/patients/{jordan.public_id}/consent/link/"
    client = signed_in(fran)
    client.post(url)

    response = client.post(url)

    assert response.status_code == 409
    content = response.content.decode()
    assert "Replace the patient's consent link?" in content
    assert "to copy (not sent in a message): that link will stop working" in content
    assert f'action="{url}"' in content and 'name="replace" value="1"' in content
    assert PatientLink.objects.filter(patient=jordan, revoked_at__isnull=True).count() == 1

    response = client.post(url, {"replace": "1"})

    assert response.status_code == 200
    assert PatientLink.objects.filter(patient=jordan).count() == 2
    assert PatientLink.objects.filter(patient=jordan, revoked_at__isnull=True).count() == 1


def test_a_consent_link_can_be_sent_by_text(signed_in, fran, jordan, document, settings):
    settings.MESSAGE_QUIET_HOURS = (0, 0)  # none: the text goes at once, whatever the hour
    jordan.mobile = "+13125550123"
    jordan.save(update_fields=["mobile"])
    CommunicationConsentFactory(patient=jordan, channel=Channel.SMS, granted=True)

    response = signed_in(fran).post(
        f"/staff/patients/{jordan.public_id}/consent/link/", {"send": "1"}
    )

    assert "queued for the patient by text message (sms)." in response.content.decode()
    [message] = jordan.messages.all()
    assert (message.kind, message.channel) == ("consent_link", "sms")


def test_a_consent_link_is_made_only_by_post(signed_in, fran, jordan, document):
    response = signed_in(fran).get(f"/staff/patients/{jordan.public_id}/consent/link/")
    assert response.status_code == 405
    assert not PatientLink.objects.exists()


def test_editors_make_no_consent_links(signed_in, edie, jordan, document):
    response = signed_in(edie).post(f"/staff/patients/{jordan.public_id}/consent/link/")
    assert response.status_code == 403
    assert not PatientLink.objects.exists()


def test_no_consent_link_before_a_form_is_published(signed_in, fran, jordan):
    response = signed_in(fran).post(f"/staff/patients/{jordan.public_id}/consent/link/")
    assert response.status_code == 302
    assert response["Location"] == f"/staff/patients/{jordan.public_id}/"
    assert not PatientLink.objects.exists()


# --- The patient's signing page ----------------------------------------------------------


def test_the_patient_sees_the_form_with_a_box_per_section(client, consent_link):
    _link, token = consent_link
    response = client.get(f"/p/consent/{token}/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "Consent to treatment" in content
    assert "Ketamine given slowly through a drip." in content
    assert content.count('type="checkbox"') == 2
    assert "I have read and understand: What the treatment is" in content
    assert "I have read and understand: Side effects" in content
    assert 'for="id_signed_name"' in content
    assert '<meta name="referrer" content="same-origin">' in content
    assert "staff-nav" not in content


def test_the_patient_signs_through_the_link(client, consent_link, jordan, document):
    link, token = consent_link
    response = client.post(f"/p/consent/{token}/", sign_form(document), **PHONE)
    assert response.status_code == 302
    assert response["Location"] == "/p/consent/signed/"
    signature = ConsentSignature.objects.get()
    assert signature.patient == jordan
    assert signature.method == ConsentSignature.Method.LINK
    assert signature.via_link == link
    assert signature.ip_address == "203.0.113.7"
    assert signature.user_agent == "PhoneBrowser/1.0 (small screen)"
    assert signature.document_snapshot["sections"] == SECTIONS
    assert signature.document_snapshot["title"] == "Consent to treatment"
    assert signature.document_snapshot["introduction"] == "Please read."
    assert infusion_start_allowed(jordan)[0] is True

    thanks = client.get("/p/consent/signed/")
    assert thanks.status_code == 200
    assert "your consent is signed" in thanks.content.decode()
    assert "Side effects" in thanks.content.decode()

    again = client.get(f"/p/consent/{token}/")
    assert again.status_code == 410
    assert "already been used" in again.content.decode()


def test_the_signed_copy_is_only_for_the_browser_that_signed(
    client, django_user_model, consent_link, document
):
    _link, token = consent_link
    client.post(f"/p/consent/{token}/", sign_form(document))
    client.cookies.clear()
    response = client.get("/p/consent/signed/")
    assert response.status_code == 404
    assert "ask the clinic" in response.content.decode()


def test_an_unticked_section_is_refused_next_to_its_box(client, consent_link, document):
    link, token = consent_link
    response = client.post(f"/p/consent/{token}/", sign_form(document, ticked=[0]))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Not ticked yet: “Side effects”." in content
    assert 'id="id_section_1-error"' in content
    assert 'id="id_section_0-error"' not in content
    assert 'name="section_0" id="id_section_0" checked' in content
    assert not ConsentSignature.objects.exists()
    link.refresh_from_db()
    assert link.used_at is None


def test_a_wrong_name_is_refused_next_to_the_name(client, consent_link, document):
    link, token = consent_link
    response = client.post(f"/p/consent/{token}/", sign_form(document, name="Jo Rivera"))
    assert response.status_code == 200
    content = response.content.decode()
    assert 'id="id_signed_name-error"' in content
    assert "Type your full legal name, as on file with the clinic" in content
    assert 'value="Jo Rivera"' in content
    assert not ConsentSignature.objects.exists()
    link.refresh_from_db()
    assert link.used_at is None


def test_a_version_published_while_reading_is_shown_instead(client, alice, consent_link, document):
    _link, token = consent_link
    page = client.get(f"/p/consent/{token}/")
    assert "Please read." in page.content.decode()
    published(alice, title="Consent to treatment, revised", introduction="Read the new one.")
    response = client.post(f"/p/consent/{token}/", sign_form(document))
    assert response.status_code == 200
    content = response.content.decode()
    assert "This consent form has been replaced; please review the new version" in content
    assert "Read the new one." in content
    assert "Version 2" in content
    assert not ConsentSignature.objects.exists()


def test_a_tampered_form_is_shown_again_not_signed(client, consent_link, document):
    _link, token = consent_link
    data = sign_form(document) | {"document": "not-a-uuid"}
    response = client.post(f"/p/consent/{token}/", data)
    assert response.status_code == 200
    assert "Something was missing from the form" in response.content.decode()
    assert not ConsentSignature.objects.exists()


def test_an_expired_link_is_gone(client, consent_link, document):
    link, token = consent_link
    PatientLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(hours=1))
    for response in [
        client.get(f"/p/consent/{token}/"),
        client.post(f"/p/consent/{token}/", sign_form(document)),
    ]:
        assert response.status_code == 410
        assert "This link has expired" in response.content.decode()
    assert not ConsentSignature.objects.exists()


def test_a_made_up_token_is_not_found(client, document):
    response = client.get("/p/consent/made-up-token/")
    assert response.status_code == 404
    assert "This link is not valid" in response.content.decode()


def test_an_intake_token_does_not_open_the_consent_form(client, fran, jordan, document):
    _link, intake_token = link_create(
        patient=jordan, purpose=PatientLink.Purpose.INTAKE, created_by=fran
    )
    response = client.post(f"/p/consent/{intake_token}/", sign_form(document))
    assert response.status_code == 404
    assert not ConsentSignature.objects.exists()


def test_a_consent_token_does_not_open_the_intake_form(client, consent_link, jordan):
    link, token = consent_link
    response = client.get(f"/p/intake/{token}/")
    assert response.status_code == 404
    assert not jordan.intakes.exists()
    link.refresh_from_db()
    assert link.used_at is None


# --- Signing on a clinic tablet --------------------------------------------------------------


@pytest.mark.parametrize("persona", ["fran", "nina", "phil", "alice"])
def test_staff_hand_over_a_tablet_and_witness_the_signature(
    request, signed_in, persona, jordan, document
):
    witness = request.getfixturevalue(persona)
    client = signed_in(witness)
    url = f"/staff/patients/{jordan.public_id}/consent/tablet/"
    page = client.get(url)
    assert page.status_code == 200
    assert f"with {witness.full_name} present as witness" in page.content.decode()
    assert views_of(jordan).count() == 1

    response = client.post(url, sign_form(document), REMOTE_ADDR="192.0.2.44")
    signature = ConsentSignature.objects.get()
    assert response["Location"] == "/staff/tablet/hand-back/"
    # The patient holds the tablet: every staff page leads to the hand-back page.
    assert client.get(f"/staff/patients/{jordan.public_id}/")["Location"] == (
        "/staff/tablet/hand-back/"
    )
    back = client.post("/staff/tablet/hand-back/", {"password": PASSWORD})
    assert back["Location"] == f"/staff/patients/{jordan.public_id}/consent/{signature.public_id}/"
    assert signature.method == ConsentSignature.Method.TABLET
    assert signature.witnessed_by == witness
    assert signature.ip_address == "192.0.2.44"
    assert signature.via_link is None


def test_the_hand_back_page_shows_no_staff_navigation_and_needs_the_password(
    signed_in, nina, jordan, document
):
    client = signed_in(nina)
    url = f"/staff/patients/{jordan.public_id}/consent/tablet/"
    client.post(url, sign_form(document))

    page = client.get("/staff/tablet/hand-back/").content.decode()
    assert "please hand the tablet back to the member of staff who gave it to you" in page
    assert "/staff/patients/" not in page and "/staff/schedule/" not in page
    wrong = client.post("/staff/tablet/hand-back/", {"password": "not it"})
    assert wrong.status_code == 400
    assert "That password is not right" in wrong.content.decode()
    assert client.get("/staff/schedule/")["Location"] == "/staff/tablet/hand-back/"
    for _ in range(4):  # five wrong passwords: the session is signed out
        client.post("/staff/tablet/hand-back/", {"password": "not it"})
    assert client.get("/staff/schedule/")["Location"].startswith("/staff/login/")


def test_cancel_on_the_tablet_locks_it_too(signed_in, nina, jordan, document):
    client = signed_in(nina)
    url = f"/staff/patients/{jordan.public_id}/consent/tablet/"

    response = client.post(url, {"cancel": "1"})

    assert response["Location"] == "/staff/tablet/hand-back/"
    assert not ConsentSignature.objects.exists()
    back = client.post("/staff/tablet/hand-back/", {"password": PASSWORD})
    assert back["Location"] == f"/staff/patients/{jordan.public_id}/"


def test_editors_cannot_open_the_tablet_form(signed_in, edie, jordan, document):
    client = signed_in(edie)
    url = f"/staff/patients/{jordan.public_id}/consent/tablet/"
    assert client.get(url).status_code == 403
    assert client.post(url, sign_form(document)).status_code == 403
    assert not ConsentSignature.objects.exists()


def test_the_tablet_form_refuses_like_the_link(signed_in, nina, jordan, document):
    url = f"/staff/patients/{jordan.public_id}/consent/tablet/"
    response = signed_in(nina).post(url, sign_form(document, name="Someone Else", ticked=[]))
    content = response.content.decode()
    assert response.status_code == 200
    assert "Not ticked yet" in content
    assert "does not match the name on file" in content
    assert not ConsentSignature.objects.exists()


def test_the_tablet_form_says_when_nothing_is_published(signed_in, nina, jordan):
    response = signed_in(nina).get(f"/staff/patients/{jordan.public_id}/consent/tablet/")
    assert response.status_code == 200
    assert "No consent form has been published" in response.content.decode()


# --- The printable record ----------------------------------------------------------------------


@pytest.fixture
def signature(jordan, document, nina) -> ConsentSignature:
    return consent_sign(
        patient=jordan,
        document=document,
        signed_name="Jordan Rivera",
        sections_acknowledged=[s["heading"] for s in SECTIONS],
        method=ConsentSignature.Method.TABLET,
        ip_address="192.0.2.44",
        user_agent="ClinicTablet/1.0",
        witnessed_by=nina,
    )


@pytest.mark.parametrize("persona", ["fran", "nina", "phil", "alice"])
def test_staff_print_exactly_what_was_signed(request, signed_in, persona, jordan, signature):
    viewer = request.getfixturevalue(persona)
    response = signed_in(viewer).get(
        f"/staff/patients/{jordan.public_id}/consent/{signature.public_id}/"
    )
    assert response.status_code == 200
    content = response.content.decode()
    for text in [
        "Consent to treatment",
        "Ketamine given slowly through a drip.",
        "Ticked: I have read and understand: Side effects",
        "Jordan Rivera",
        "192.0.2.44",
        "Signed on a clinic tablet",
        "Nina Nurse",
        'media="print" href="/static/css/print/consent.css"',
    ]:
        assert text in content, text
    event = views_of(jordan).get()
    assert event.actor == viewer
    assert str(signature.public_id) in event.summary


def test_the_printable_record_comes_from_the_snapshot(signed_in, alice, jordan, signature):
    # Published documents are never changed by the application; if the row ever were, the
    # record still shows what the patient saw.
    ConsentDocument.objects.filter(pk=signature.document_id).update(title="Changed later")
    response = signed_in(alice).get(
        f"/staff/patients/{jordan.public_id}/consent/{signature.public_id}/"
    )
    assert "Consent to treatment" in response.content.decode()
    assert "Changed later" not in response.content.decode()


def test_the_signing_time_is_shown_in_the_patients_location_time_zone(
    signed_in, alice, jordan, signature
):
    jordan.preferred_location = Location.objects.create(
        name="Westside",
        address_line1="2 Hill St",
        city="Denver",
        phone="+1 555 010 0199",
        time_zone="America/Denver",
    )
    jordan.save(update_fields=["preferred_location"])
    ConsentSignature.objects.filter(pk=signature.pk).update(
        signed_at=datetime(2025, 1, 15, 18, 30, tzinfo=UTC)
    )
    response = signed_in(alice).get(
        f"/staff/patients/{jordan.public_id}/consent/{signature.public_id}/"
    )
    assert "15 January 2025, 11:30:00 MST" in response.content.decode()


def test_editors_cannot_see_signatures(signed_in, edie, jordan, signature):
    response = signed_in(edie).get(
        f"/staff/patients/{jordan.public_id}/consent/{signature.public_id}/"
    )
    assert response.status_code == 403
    assert not views_of(jordan).exists()


def test_a_signature_is_found_only_under_its_own_patient(signed_in, alice, signature):
    sam = PatientFactory(legal_first_name="Sam", legal_last_name="Lee")
    response = signed_in(alice).get(
        f"/staff/patients/{sam.public_id}/consent/{signature.public_id}/"
    )
    assert response.status_code == 404


def test_a_link_sent_before_a_new_version_opens_the_new_version(client, alice, consent_link):
    _link, token = consent_link
    published(alice, title="Consent to treatment, revised", introduction="Read the new one.")
    response = client.get(f"/p/consent/{token}/")
    content = response.content.decode()
    assert "updated the consent form since this link was sent" in content
    assert "Read the new one." in content


# --- On the patient chart -----------------------------------------------------------------


def test_the_chart_partial_offers_a_link_and_the_tablet_until_the_patient_signs(
    rf, fran, nina, jordan, document
):
    def chart(user):
        request = rf.get("/")
        request.user = user
        context = {"patient": jordan, **consent_chart_context(user, jordan)}
        return render_to_string(
            "patients/consent/partials/_chart_consent.html", context, request=request
        )

    unsigned = chart(fran)
    assert "Not signed" in unsigned
    assert f"/staff/patients/{jordan.public_id}/consent/link/" in unsigned
    assert f"/staff/patients/{jordan.public_id}/consent/tablet/" in unsigned
    signature = consent_sign(
        patient=jordan,
        document=document,
        signed_name="Jordan Rivera",
        sections_acknowledged=[s["heading"] for s in SECTIONS],
        method=ConsentSignature.Method.TABLET,
        ip_address=None,
        user_agent="",
        witnessed_by=nina,
    )
    signed = chart(nina)
    assert "Signed" in signed
    assert f"/staff/patients/{jordan.public_id}/consent/{signature.public_id}/" in signed
    assert "/consent/link/" not in signed
