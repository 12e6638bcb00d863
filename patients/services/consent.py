"""Informed consent: versioned consent documents, and patients' signatures of them.

A clinic admin writes a draft, then publishes it; publishing gives it the next version
number and from then on it is never changed (patients may have signed it). Only the
latest published version counts: a signature of an older version stops being current
the moment a new one is published, and ``infusion_start_allowed`` then says no until the
patient signs again. A signature keeps a snapshot of exactly what the patient was shown.

There is at most one draft at a time (the next version): ``ConsentDocument.version`` is
required and unique, so the draft holds the number it will be published under.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.db.models import Count, Max, QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record, changed_fields_summary
from clinic.models import User
from clinic.permissions import Capability, require, user_can
from patients.links import (
    LinkError,
    link_create,
    link_for_token,
    link_mark_used,
    link_token,
    refuse_silent_replacement,
)
from patients.messages import message_base_url, patient_link_enqueue
from patients.models import ConsentDocument, ConsentSignature, Patient, PatientLink

MANAGE = Capability.MANAGE_CONSENT_DOCUMENTS
MAX_SECTIONS = 40
HEADING_MAX_LENGTH = 200
TITLE_MAX_LENGTH = 200
# Serialises drafting and publishing (exclusive) against signing (shared), so a signature
# is never taken on a version that is being replaced in the same instant.
_DOCUMENTS_LOCK = 7_301_001

REPLACED_MESSAGE = (
    "This consent form has been replaced; please review the new version below, then tick "
    "each section and type your name again."
)

Errors = dict[str, list[str]]


# --- Consent documents -------------------------------------------------------------------


@transaction.atomic
def consent_document_create_draft(
    *,
    actor: User,
    title: str,
    introduction: str,
    sections: Sequence[Mapping[str, str]],
    request: HttpRequest | None = None,
) -> ConsentDocument:
    """Start the next version as a draft. Refused while another draft exists."""
    require(actor, MANAGE)
    lock_consent_documents()
    title, introduction, cleaned = clean_consent_content(title, introduction, sections)
    draft = consent_document_draft()
    if draft is not None:
        raise ValidationError(
            f"There is already a draft (version {draft.version}). Edit or publish it before "
            "starting another one."
        )
    highest = ConsentDocument.objects.aggregate(highest=Max("version"))["highest"] or 0
    document = ConsentDocument.objects.create(
        title=title,
        version=highest + 1,
        introduction=introduction,
        sections=cleaned,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=document,
        summary=f"drafted consent form version {document.version} with {len(cleaned)} sections",
        request=request,
    )
    return document


@transaction.atomic
def consent_document_update_draft(
    *,
    actor: User,
    document: ConsentDocument,
    title: str,
    introduction: str,
    sections: Sequence[Mapping[str, str]],
    request: HttpRequest | None = None,
) -> ConsentDocument:
    """Change a draft; a published version is refused, whatever is sent."""
    require(actor, MANAGE)
    current = ConsentDocument.objects.select_for_update().get(pk=document.pk)
    _refuse_if_published(current)
    title, introduction, cleaned = clean_consent_content(title, introduction, sections)
    changed = [
        name
        for name, value in [("title", title), ("introduction", introduction), ("sections", cleaned)]
        if getattr(current, name) != value
    ]
    if not changed:
        return current
    current.title, current.introduction, current.sections = title, introduction, cleaned
    current.save(update_fields=changed)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=current,
        summary=f"draft version {current.version}: {changed_fields_summary(changed)}",
        request=request,
    )
    return current


@transaction.atomic
def consent_document_publish(
    *, actor: User, document: ConsentDocument, request: HttpRequest | None = None
) -> ConsentDocument:
    """Publish a draft as the next version. From now on it is what patients sign."""
    require(actor, MANAGE)
    lock_consent_documents()
    current = ConsentDocument.objects.select_for_update().get(pk=document.pk)
    _refuse_if_published(current)
    # The draft already holds the next number; recomputing it keeps the published versions
    # gapless even if the numbering ever drifts.
    highest = (
        ConsentDocument.objects.filter(published_at__isnull=False).aggregate(
            highest=Max("version")
        )["highest"]
        or 0
    )
    current.version = highest + 1
    current.published_at = timezone.now()
    current.save(update_fields=["version", "published_at"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=current,
        summary=f"published consent form version {current.version}",
        request=request,
    )
    return current


def consent_document_current(*, only: Sequence[str] = ()) -> ConsentDocument | None:
    """The latest published version: the only one a patient can sign. Runs a query; with
    ``only``, reads those fields alone (the others are read when first used, a query each)."""
    documents = ConsentDocument.objects.filter(published_at__isnull=False)
    if only:
        documents = documents.only(*only)
    return documents.order_by("-version").first()


def consent_document_draft() -> ConsentDocument | None:
    return ConsentDocument.objects.filter(published_at__isnull=True).order_by("-version").first()


def consent_documents_for(user: Any) -> QuerySet[ConsentDocument]:
    """Every version, newest first, with how many signatures each has (clinic admins only)."""
    require(user, MANAGE)
    return ConsentDocument.objects.select_related("created_by").annotate(
        signature_count=Count("signatures")
    )


def consent_document_for(user: Any, public_id: uuid.UUID | str) -> ConsentDocument:
    require(user, MANAGE)
    try:
        return consent_documents_for(user).get(public_id=public_id)
    except (ConsentDocument.DoesNotExist, ValueError):
        raise Http404("No such consent document.") from None


def consent_document_snapshot(document: ConsentDocument) -> dict[str, Any]:
    """What a patient is shown, as kept with their signature."""
    return {
        "document_id": str(document.public_id),
        "title": document.title,
        "version": document.version,
        "introduction": document.introduction,
        "sections": [
            {"heading": section["heading"], "text": section["text"]}
            for section in document.sections
        ],
        "published_at": document.published_at.isoformat() if document.published_at else None,
    }


def _refuse_if_published(document: ConsentDocument) -> None:
    if document.published_at is not None:
        published = timezone.localtime(document.published_at)
        raise ValidationError(
            f"Version {document.version} was published on {published:%d %b %Y} and can no "
            "longer be changed: patients may have signed it. Start a new draft from it instead."
        )


def clean_consent_content(
    title: str, introduction: str, sections: Sequence[Mapping[str, str]]
) -> tuple[str, str, list[dict[str, str]]]:
    """The tidied title, introduction and sections, or ValidationError saying what to fix."""
    errors: Errors = {}
    title = " ".join((title or "").split())
    introduction = (introduction or "").strip()
    if not title:
        errors["title"] = [
            "Give the consent form a title, e.g. “Consent to ketamine infusion treatment”."
        ]
    elif len(title) > TITLE_MAX_LENGTH:
        errors["title"] = [f"Keep the title to {TITLE_MAX_LENGTH} characters or fewer."]
    cleaned, section_errors = _validated_sections(sections)
    if section_errors:
        errors["sections"] = section_errors
    if errors:
        raise ValidationError(errors)
    return title, introduction, cleaned


def _validated_sections(
    sections: Sequence[Mapping[str, str]],
) -> tuple[list[dict[str, str]], list[str]]:
    cleaned = [
        {
            "heading": " ".join(str(section.get("heading") or "").split()),
            "text": str(section.get("text") or "").strip(),
        }
        for section in sections
    ]
    if not cleaned:
        return [], [
            "Add at least one section: the patient ticks each one to confirm they have read it."
        ]
    if len(cleaned) > MAX_SECTIONS:
        return [], [f"A consent form can have at most {MAX_SECTIONS} sections; merge some."]
    errors: list[str] = []
    seen: set[str] = set()
    for number, section in enumerate(cleaned, start=1):
        heading, text = section["heading"], section["text"]
        if not heading and not text:
            errors.append(f"Section {number} is empty. Write its heading and text, or remove it.")
        elif not heading:
            errors.append(
                f"Section {number} (“{_first_words(text)}”) has no heading. Give it a short "
                "heading: the patient ticks “I have read and understand:” followed by it."
            )
        elif not text:
            errors.append(
                f"Section {number} (“{heading}”) has no text. Write the text, or remove the "
                "section."
            )
        if len(heading) > HEADING_MAX_LENGTH:
            errors.append(
                f"The heading of section {number} is longer than {HEADING_MAX_LENGTH} "
                "characters. Shorten it and move the detail into the text."
            )
        if heading and heading.casefold() in seen:
            errors.append(
                f"Two sections are called “{heading}”. Give each section its own heading, so "
                "it is clear which ones the patient ticked."
            )
        seen.add(heading.casefold())
    return cleaned, errors


def _first_words(text: str, count: int = 6) -> str:
    words = text.split()
    return " ".join(words[:count]) + ("…" if len(words) > count else "")


def lock_consent_documents(*, shared: bool = False) -> None:
    """Until the transaction ends: exclusive for drafting and publishing, shared for signing."""
    with connection.cursor() as cursor:
        if shared:
            cursor.execute("SELECT pg_advisory_xact_lock_shared(%s)", [_DOCUMENTS_LOCK])
        else:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_DOCUMENTS_LOCK])


# --- Signatures ---------------------------------------------------------------------------


@transaction.atomic
def consent_sign(
    *,
    patient: Patient,
    document: ConsentDocument,
    signed_name: str,
    sections_acknowledged: Iterable[str],
    method: ConsentSignature.Method,
    ip_address: str | None,
    user_agent: str,
    via_link: PatientLink | None = None,
    witnessed_by: User | None = None,
) -> ConsentSignature:
    """Record the patient's signature of ``document``, which must be the current version.

    ``sections_acknowledged`` are the headings of the sections the patient ticked. A link
    is checked again under a row lock and used up; a tablet signature names its witness.
    Raises ValidationError (keys ``document``, ``sections_acknowledged``, ``signed_name``)
    or LinkError, and then nothing is written.
    """
    if method == ConsentSignature.Method.LINK and (via_link is None or witnessed_by):
        raise ValueError("A signature through a link needs via_link and no witness.")
    if method == ConsentSignature.Method.TABLET and (witnessed_by is None or via_link):
        raise ValueError("A signature on a clinic tablet needs witnessed_by and no link.")
    if witnessed_by is not None and not can_witness(witnessed_by):
        raise PermissionDenied
    lock_consent_documents(shared=True)
    link = None
    if via_link is not None:
        # The one access function again, under a lock: a link used or replaced since the
        # form was shown is refused here, and a link made for another purpose never passes.
        link = link_for_token(link_token(via_link), PatientLink.Purpose.CONSENT, for_update=True)
        if link.patient_id != patient.pk:
            raise LinkError(
                "This link was made for someone else. Use the link from your own message, or "
                "ask the clinic to send you a new one.",
                status=404,
            )

    current = consent_document_current()
    if current is None or current.pk != document.pk:
        raise ValidationError({"document": [REPLACED_MESSAGE]})
    errors: Errors = {}
    ticked = set(sections_acknowledged)
    headings = [section["heading"] for section in document.sections]
    unticked = [heading for heading in headings if heading not in ticked]
    if unticked:
        errors["sections_acknowledged"] = [
            "Tick every box to confirm you have read and understood each section. Not ticked "
            "yet: " + "; ".join(f"“{heading}”" for heading in unticked) + "."
        ]
    typed = _normalised_name(signed_name)
    if not typed:
        errors["signed_name"] = [
            "Type your full legal name (first and last name) as the clinic has it on file."
        ]
    elif typed.casefold() != _normalised_name(patient.legal_name).casefold():
        errors["signed_name"] = [
            "The name you typed does not match the name on file. Type your full legal name, as "
            "on file with the clinic (first and last name). If your name has changed, tell "
            "the clinic."
        ]
    if errors:
        raise ValidationError(errors)

    signature = ConsentSignature.objects.create(
        patient=patient,
        document=document,
        signed_name=typed,
        sections_acknowledged=headings,
        document_snapshot=consent_document_snapshot(document),
        method=method,
        ip_address=_valid_ip(ip_address),
        user_agent=(user_agent or "")[:300],
        witnessed_by=witnessed_by,
        via_link=link,
    )
    if link is not None:
        link_mark_used(link)
    audit_record(
        actor=witnessed_by,
        action=Action.CREATE,
        target=signature,
        summary=(
            f"patient {patient.public_id} signed consent version {document.version} "
            f"({signature.get_method_display().lower()})"
        ),
    )
    return signature


@transaction.atomic
def consent_link_create(
    *,
    actor: User,
    patient: Patient,
    send_to_patient: bool = False,
    replace_live: bool = False,
    request: HttpRequest | None = None,
) -> tuple[PatientLink, str]:
    """A single-use link for the patient to sign the current version; returns (link, token).

    The link is always returned for staff to hand over. With ``send_to_patient`` (staff
    chose to send it) it is also queued to the patient by email and/or text, on the
    channels they agreed to and have an address for (``patients.messages``). A link only to
    copy while the patient holds a working one is refused until staff confirm
    (``replace_live``; ``patients.links.refuse_silent_replacement``)."""
    require(actor, Capability.SEND_PATIENT_LINKS)
    document = consent_document_current()
    if document is None:
        raise ValidationError(
            "No consent form has been published yet, so there is nothing to sign. A clinic "
            "admin publishes one under Consent forms."
        )
    if not send_to_patient and not replace_live:
        refuse_silent_replacement(patient, PatientLink.Purpose.CONSENT)
    link, token = link_create(
        patient=patient,
        purpose=PatientLink.Purpose.CONSENT,
        created_by=actor,
        consent_document=document,
    )
    if send_to_patient:
        patient_link_enqueue(link=link, base_url=message_base_url(request))
    return link, token


def consent_current_signature(patient: Patient) -> ConsentSignature | None:
    """The patient's latest signature of the current published version, if any. Two queries."""
    current = consent_document_current()
    if current is None:
        return None
    return _latest_signature_of(patient, current)


def _latest_signature_of(patient: Patient, document: ConsentDocument) -> ConsentSignature | None:
    return (
        ConsentSignature.objects.filter(patient=patient, document=document)
        .select_related("document", "witnessed_by")
        .order_by("-signed_at", "-id")
        .first()
    )


def infusion_start_allowed(patient: Patient) -> tuple[bool, str]:
    """Whether consent allows an infusion to start, and why (the infusion checks add more)."""
    current = consent_document_current()
    if current is None:
        return False, (
            "No consent form has been published yet. A clinic admin must publish one, and the "
            "patient must sign it before an infusion."
        )
    signature = _latest_signature_of(patient, current)  # the version just read, not again
    if signature is not None:
        signed = patient_local_time(patient, signature.signed_at)
        return True, f"Consent version {current.version} signed on {signed:%d %b %Y}."
    earlier = (
        ConsentSignature.objects.filter(patient=patient)
        .select_related("document")
        .order_by("-signed_at", "-id")
        .first()
    )
    if earlier is not None:
        return False, (
            f"The patient signed version {earlier.document.version}, which has been replaced by "
            f"version {current.version}. They must sign the new version before an infusion: "
            "send them a consent link or have them sign on a clinic tablet."
        )
    return False, (
        f"The patient has not signed the consent form (version {current.version}). Send them "
        "a consent link or have them sign on a clinic tablet before an infusion."
    )


@dataclass(frozen=True)
class ConsentStatus:
    """What a patient chart shows about consent."""

    current_document: ConsentDocument | None
    current_signature: ConsentSignature | None
    signatures: list[ConsentSignature] = field(default_factory=list)

    @property
    def is_current(self) -> bool:
        return self.current_signature is not None


def consent_status(patient: Patient) -> ConsentStatus:
    """The current version, the patient's signature of it, and all their signatures: what
    the chart shows of them (titles, versions, dates, methods), not the texts signed (the
    documents' and the signatures' copies, kilobytes each, are read only when used). Two
    queries."""
    current = consent_document_current(only=("public_id", "title", "version"))
    signatures = list(
        ConsentSignature.objects.filter(patient=patient)
        .select_related("document")
        .only(
            "public_id",
            "patient_id",
            "document",
            "document__public_id",
            "document__title",
            "document__version",
            "signed_at",
            "method",
        )
        .order_by("-signed_at", "-id")
    )
    current_signature = next(
        (signature for signature in signatures if current and signature.document_id == current.pk),
        None,
    )
    return ConsentStatus(current, current_signature, signatures)


def consent_signature_for(patient: Patient, public_id: uuid.UUID | str) -> ConsentSignature:
    """One of ``patient``'s signatures (fetch the patient with ``patient_for`` first)."""
    try:
        return ConsentSignature.objects.select_related("document", "witnessed_by").get(
            patient=patient, public_id=public_id
        )
    except (ConsentSignature.DoesNotExist, ValueError):
        raise Http404("No such consent signature.") from None


def patient_time_zone(patient: Patient) -> tzinfo:
    """Times about a patient are shown in their preferred location's zone, else the clinic's."""
    if patient.preferred_location is not None:
        return patient.preferred_location.tz
    return ZoneInfo(settings.TIME_ZONE)


def patient_local_time(patient: Patient, moment: datetime) -> datetime:
    return moment.astimezone(patient_time_zone(patient))


def can_witness(user: Any) -> bool:
    """Who may hand a patient the clinic tablet and witness their signature."""
    return user_can(user, Capability.SEND_PATIENT_LINKS) or user_can(
        user, Capability.RECORD_CLINICAL
    )


def _normalised_name(name: str) -> str:
    return re.sub(r"\s+", " ", name or "").strip()


def _valid_ip(value: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((value or "").strip()))
    except ValueError:
        return None
