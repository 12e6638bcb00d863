"""Consent documents and signatures: the rules in patients.services.consent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from clinic.models import AuditEvent
from patients.consent_defaults import SECTIONS as DEFAULT_SECTIONS
from patients.consent_defaults import seed_consent_document
from patients.links import LinkError, link_create, link_for_token
from patients.models import ConsentDocument, ConsentSignature, PatientLink
from patients.services.consent import (
    consent_current_signature,
    consent_document_create_draft,
    consent_document_current,
    consent_document_publish,
    consent_document_snapshot,
    consent_document_update_draft,
    consent_link_create,
    consent_sign,
    infusion_start_allowed,
)
from patients.tests.factories import PatientFactory

SECTIONS = [
    {"heading": "What the treatment is", "text": "Ketamine given slowly through a drip."},
    {"heading": "Side effects", "text": "Feeling detached, nausea, dizziness."},
    {"heading": "Getting home", "text": "An adult takes you home; no driving until tomorrow."},
]
HEADINGS = [section["heading"] for section in SECTIONS]
Method = ConsentSignature.Method


def draft(actor, **overrides) -> ConsentDocument:
    fields = {"title": "Consent to treatment", "introduction": "Please read.", "sections": SECTIONS}
    return consent_document_create_draft(actor=actor, **(fields | overrides))


def published(actor, **overrides) -> ConsentDocument:
    return consent_document_publish(actor=actor, document=draft(actor, **overrides))


@pytest.fixture
def jordan(db):
    return PatientFactory(legal_first_name="Jordan", legal_last_name="Rivera", preferred_name="Jo")


def sign_on_tablet(patient, document, witness, **overrides) -> ConsentSignature:
    fields = {
        "patient": patient,
        "document": document,
        "signed_name": "Jordan Rivera",
        "sections_acknowledged": [section["heading"] for section in document.sections],
        "method": Method.TABLET,
        "ip_address": "192.0.2.10",
        "user_agent": "ClinicTablet/1.0",
        "witnessed_by": witness,
    }
    return consent_sign(**(fields | overrides))


def sign_by_link(patient, document, link, **overrides) -> ConsentSignature:
    fields = {
        "patient": patient,
        "document": document,
        "signed_name": "Jordan Rivera",
        "sections_acknowledged": HEADINGS,
        "method": Method.LINK,
        "ip_address": "203.0.113.7",
        "user_agent": "PhoneBrowser/1.0",
        "via_link": link,
    }
    return consent_sign(**(fields | overrides))


# --- Drafts, publishing and versions -------------------------------------------------------


def test_it_saves_a_draft_as_the_next_version_and_records_it(alice):
    document = draft(alice, title="  Consent   to treatment ")
    assert document.version == 1
    assert document.published_at is None
    assert document.title == "Consent to treatment"
    assert document.sections == SECTIONS
    assert document.created_by == alice
    event = AuditEvent.objects.get(object_id=str(document.public_id))
    assert event.action == AuditEvent.Action.CREATE
    assert event.object_label == ""  # patients' app records are logged by id only


def test_a_draft_is_not_the_current_version(alice):
    draft(alice)
    assert consent_document_current() is None


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ([], "Add at least one section"),
        ([{"heading": "Risks", "text": "  "}], "Section 1 (“Risks”) has no text"),
        ([{"heading": "", "text": "Some words about risks"}], "Section 1 (“Some words"),
        ([{"heading": " ", "text": ""}], "Section 1 is empty"),
        (
            [{"heading": "Risks", "text": "a"}, {"heading": "risks", "text": "b"}],
            "Two sections are called “risks”",
        ),
    ],
)
def test_it_refuses_a_draft_with_missing_or_ambiguous_sections(alice, sections, message):
    with pytest.raises(ValidationError) as error:
        draft(alice, sections=sections)
    assert message in " ".join(error.value.message_dict["sections"])
    assert not ConsentDocument.objects.exists()


def test_it_refuses_a_draft_without_a_title(alice):
    with pytest.raises(ValidationError) as error:
        draft(alice, title="   ")
    assert "Give the consent form a title" in error.value.message_dict["title"][0]
    assert not ConsentDocument.objects.exists()


def test_it_refuses_a_second_draft_while_one_exists(alice):
    first = draft(alice)
    with pytest.raises(ValidationError) as error:
        draft(alice, title="Another")
    assert f"already a draft (version {first.version})" in error.value.messages[0]
    assert ConsentDocument.objects.count() == 1


@pytest.mark.parametrize("persona", ["fran", "nina", "phil", "edie"])
def test_only_clinic_admins_write_and_publish_consent_documents(request, alice, persona):
    someone = request.getfixturevalue(persona)
    with pytest.raises(PermissionDenied):
        draft(someone)
    document = draft(alice)
    with pytest.raises(PermissionDenied):
        consent_document_update_draft(
            actor=someone, document=document, title="X", introduction="", sections=SECTIONS
        )
    with pytest.raises(PermissionDenied):
        consent_document_publish(actor=someone, document=document)
    document.refresh_from_db()
    assert document.title == "Consent to treatment"
    assert document.published_at is None


def test_it_changes_a_draft_and_records_which_fields_changed(alice):
    document = draft(alice)
    changed = consent_document_update_draft(
        actor=alice,
        document=document,
        title="Consent to treatment",
        introduction="Please read every section.",
        sections=[*SECTIONS, {"heading": "Privacy", "text": "We keep records private."}],
    )
    assert changed.introduction == "Please read every section."
    assert len(changed.sections) == 4
    event = AuditEvent.objects.filter(action=AuditEvent.Action.UPDATE).get()
    assert event.summary == "draft version 1: changed introduction, sections"


def test_published_versions_can_never_be_changed(alice):
    document = published(alice)
    with pytest.raises(ValidationError) as error:
        consent_document_update_draft(
            actor=alice, document=document, title="Sneaky", introduction="", sections=SECTIONS
        )
    assert "Version 1 was published on" in error.value.messages[0]
    assert "can no longer be changed" in error.value.messages[0]
    assert "Start a new draft" in error.value.messages[0]
    document.refresh_from_db()
    assert document.title == "Consent to treatment"


def test_it_refuses_to_publish_a_version_twice(alice):
    document = published(alice)
    published_at = document.published_at
    with pytest.raises(ValidationError):
        consent_document_publish(actor=alice, document=document)
    document.refresh_from_db()
    assert document.published_at == published_at


def test_publishing_gives_the_next_version_and_makes_it_current(alice):
    first = published(alice)
    second = draft(alice, title="Consent to treatment, revised")
    assert second.version == 2
    assert consent_document_current() == first
    second = consent_document_publish(actor=alice, document=second)
    assert second.version == 2
    assert second.published_at is not None
    assert consent_document_current() == second
    third = draft(alice)
    assert third.version == 3
    assert consent_document_current() == second


# --- The clinic's first consent form --------------------------------------------------------


def test_the_seed_publishes_the_default_form_as_version_1_once(db):
    document = seed_consent_document()
    assert document is not None
    assert document.version == 1
    assert document.published_at is not None
    assert consent_document_current() == document
    assert seed_consent_document() is None
    assert ConsentDocument.objects.count() == 1


def test_the_seed_leaves_a_clinic_with_its_own_form_alone(alice):
    draft(alice)
    assert seed_consent_document() is None
    assert ConsentDocument.objects.get().title == "Consent to treatment"


def test_the_default_form_covers_what_patients_must_know(db):
    text = " ".join(f"{s['heading']} {s['text']}" for s in DEFAULT_SECTIONS).lower()
    for fact in [
        "40 minutes",
        "45 minutes",
        "blood pressure, heart rate and oxygen",
        "dissociation",
        "nausea or vomiting",
        "blurred",
        "pregnan",
        "breastfeeding",
        "adult",
        "do not drive",
        "schedule iii",
        "stop the course at any time",
        "never your diagnosis or the name of a medicine",
    ]:
        assert fact in text, fact


# --- Signing -----------------------------------------------------------------------------


def test_a_patient_signs_on_a_tablet_with_a_witness(alice, nina, jordan):
    document = published(alice)
    signature = sign_on_tablet(jordan, document, nina)
    assert signature.method == Method.TABLET
    assert signature.witnessed_by == nina
    assert signature.via_link is None
    assert signature.ip_address == "192.0.2.10"
    assert signature.user_agent == "ClinicTablet/1.0"
    assert signature.sections_acknowledged == HEADINGS
    assert signature.document_snapshot == consent_document_snapshot(document)
    assert signature.document_snapshot["sections"] == document.sections
    assert signature.document_snapshot["title"] == document.title
    assert signature.document_snapshot["version"] == 1
    event = AuditEvent.objects.get(object_id=str(signature.public_id))
    assert event.actor == nina
    assert str(jordan.public_id) in event.summary
    assert "Jordan" not in event.summary


def test_a_patient_signs_through_a_link_which_is_then_used_up(alice, fran, jordan):
    document = published(alice)
    link, token = consent_link_create(actor=fran, patient=jordan)
    assert link.consent_document == document
    signature = sign_by_link(jordan, document, link)
    assert signature.via_link == link
    assert signature.witnessed_by is None
    assert signature.ip_address == "203.0.113.7"
    link.refresh_from_db()
    assert link.used_at is not None
    with pytest.raises(LinkError) as error:
        link_for_token(token, PatientLink.Purpose.CONSENT)
    assert "already been used" in str(error.value)


def test_the_typed_name_may_differ_in_case_and_spacing(alice, nina, jordan):
    document = published(alice)
    signature = sign_on_tablet(jordan, document, nina, signed_name="  jordan   RIVERA ")
    assert signature.signed_name == "jordan RIVERA"


def assert_nothing_signed(link: PatientLink | None = None) -> None:
    assert not ConsentSignature.objects.exists()
    assert not AuditEvent.objects.filter(object_type="patients.consentsignature").exists()
    if link is not None:
        link.refresh_from_db()
        assert link.used_at is None


def test_it_refuses_a_signature_with_an_unticked_section_and_names_it(alice, fran, jordan):
    document = published(alice)
    link, _token = consent_link_create(actor=fran, patient=jordan)
    with pytest.raises(ValidationError) as error:
        sign_by_link(jordan, document, link, sections_acknowledged=[HEADINGS[0]])
    message = error.value.message_dict["sections_acknowledged"][0]
    assert "Not ticked yet: “Side effects”; “Getting home”." in message
    assert_nothing_signed(link)


@pytest.mark.parametrize("typed", ["", "   ", "Jo Rivera", "Jordan", "Rivera Jordan"])
def test_it_refuses_a_name_that_is_not_the_legal_name_on_file(alice, fran, jordan, typed):
    document = published(alice)
    link, _token = consent_link_create(actor=fran, patient=jordan)
    with pytest.raises(ValidationError) as error:
        sign_by_link(jordan, document, link, signed_name=typed)
    message = error.value.message_dict["signed_name"][0]
    assert "full legal name" in message
    assert "Rivera" not in message.replace(typed, "")  # never reveals the name on file
    assert_nothing_signed(link)


def test_it_refuses_to_sign_a_replaced_version(alice, fran, jordan):
    old = published(alice)
    link, _token = consent_link_create(actor=fran, patient=jordan)
    published(alice, title="Consent to treatment, revised")
    with pytest.raises(ValidationError) as error:
        sign_by_link(jordan, old, link)
    assert error.value.message_dict["document"][0].startswith(
        "This consent form has been replaced; please review the new version"
    )
    assert_nothing_signed(link)


def test_it_refuses_to_sign_a_draft(alice, nina, jordan):
    published(alice)
    unpublished = draft(alice)
    with pytest.raises(ValidationError) as error:
        sign_on_tablet(jordan, unpublished, nina)
    assert "document" in error.value.message_dict
    assert_nothing_signed()


def test_a_link_signs_only_once(alice, fran, jordan):
    document = published(alice)
    link, _token = consent_link_create(actor=fran, patient=jordan)
    sign_by_link(jordan, document, link)
    with pytest.raises(LinkError) as error:
        sign_by_link(jordan, document, link)
    assert "already been used" in str(error.value)
    assert ConsentSignature.objects.count() == 1


def test_an_expired_link_signs_nothing(alice, fran, jordan):
    document = published(alice)
    link, _token = consent_link_create(actor=fran, patient=jordan)
    PatientLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(LinkError) as error:
        sign_by_link(jordan, document, link)
    assert "expired" in str(error.value)
    assert_nothing_signed(link)


def test_a_link_replaced_by_a_newer_one_signs_nothing(alice, fran, jordan):
    document = published(alice)
    old, _token = consent_link_create(actor=fran, patient=jordan)
    consent_link_create(actor=fran, patient=jordan, replace_live=True)
    with pytest.raises(LinkError) as error:
        sign_by_link(jordan, document, old)
    assert "replaced by a newer one" in str(error.value)
    assert_nothing_signed(old)


def test_a_link_for_another_patient_signs_nothing(alice, fran, jordan):
    document = published(alice)
    sam = PatientFactory(legal_first_name="Sam", legal_last_name="Lee")
    link, _token = consent_link_create(actor=fran, patient=sam)
    with pytest.raises(LinkError) as error:
        sign_by_link(jordan, document, link)
    assert error.value.status == 404
    assert_nothing_signed(link)


def test_an_intake_link_cannot_sign_consent_nor_a_consent_token_open_intake(alice, fran, jordan):
    document = published(alice)
    intake, _intake_token = link_create(
        patient=jordan, purpose=PatientLink.Purpose.INTAKE, created_by=fran
    )
    with pytest.raises(LinkError):
        sign_by_link(jordan, document, intake)
    assert_nothing_signed(intake)
    _link, consent_token = consent_link_create(actor=fran, patient=jordan)
    with pytest.raises(LinkError) as error:
        link_for_token(consent_token, PatientLink.Purpose.INTAKE)
    assert error.value.status == 404


def test_only_staff_who_send_links_or_treat_may_witness(alice, edie, jordan):
    document = published(alice)
    with pytest.raises(PermissionDenied):
        sign_on_tablet(jordan, document, edie)
    assert_nothing_signed()


def test_it_keeps_no_ip_address_that_is_not_one(alice, nina, jordan):
    signature = sign_on_tablet(jordan, published(alice), nina, ip_address="not-an-ip")
    assert signature.ip_address is None


def test_it_makes_no_consent_link_before_a_form_is_published(fran, jordan):
    with pytest.raises(ValidationError) as error:
        consent_link_create(actor=fran, patient=jordan)
    assert "No consent form has been published yet" in error.value.messages[0]
    assert not PatientLink.objects.exists()


def test_editors_make_no_consent_links(alice, edie, jordan):
    published(alice)
    with pytest.raises(PermissionDenied):
        consent_link_create(actor=edie, patient=jordan)


# --- What the infusion issue relies on ----------------------------------------------------


def test_no_infusion_starts_before_any_consent_form_is_published(jordan):
    allowed, reason = infusion_start_allowed(jordan)
    assert not allowed
    assert "No consent form has been published yet" in reason


def test_no_infusion_starts_before_the_patient_signs(alice, jordan):
    published(alice)
    allowed, reason = infusion_start_allowed(jordan)
    assert not allowed
    assert "has not signed the consent form (version 1)" in reason
    assert consent_current_signature(jordan) is None


def test_an_infusion_may_start_once_the_current_version_is_signed(alice, nina, jordan):
    signature = sign_on_tablet(jordan, published(alice), nina)
    allowed, reason = infusion_start_allowed(jordan)
    assert allowed
    assert reason.startswith("Consent version 1 signed on")
    assert consent_current_signature(jordan) == signature


def test_another_patients_signature_allows_nothing(alice, nina, jordan):
    sam = PatientFactory(legal_first_name="Sam", legal_last_name="Lee")
    sign_on_tablet(sam, published(alice), nina, signed_name="Sam Lee")
    assert infusion_start_allowed(jordan)[0] is False


def test_a_new_version_makes_the_old_signature_no_longer_current(alice, nina, jordan):
    sign_on_tablet(jordan, published(alice), nina)
    second = published(alice, title="Consent to treatment, revised")
    allowed, reason = infusion_start_allowed(jordan)
    assert not allowed
    assert "signed version 1, which has been replaced by version 2" in reason
    assert consent_current_signature(jordan) is None
    resigned = sign_on_tablet(jordan, second, nina)
    assert infusion_start_allowed(jordan)[0] is True
    assert consent_current_signature(jordan) == resigned


def test_publishing_a_draft_does_not_disturb_current_signatures(alice, nina, jordan):
    signature = sign_on_tablet(jordan, published(alice), nina)
    draft(alice, title="Next version, not yet published")
    assert infusion_start_allowed(jordan)[0] is True
    assert consent_current_signature(jordan) == signature
