"""Consent pages: clinic admins write and publish consent documents; patients sign them.

Staff pages live under /staff/patients/ (namespace "patients"); the page a patient opens
from a consent link lives under /p/consent/ (namespace "patient_links"). A patient signs
the same form through a link or on a clinic tablet handed over by a staff member, who is
then recorded as the witness. Every rule is in ``patients.services.consent``.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from clinic.audit import Action, audit_record
from clinic.client_address import client_ip
from clinic.forms import show_service_errors
from clinic.models import User
from clinic.permissions import Capability, capability_required, user_can
from clinic.tablet import tablet_hand_over
from patients.forms_consent import (
    BaseConsentSectionFormSet,
    ConsentDocumentForm,
    ConsentSignForm,
    section_formset,
)
from patients.links import LinkError, link_for_token
from patients.models import ConsentDocument, ConsentSignature, Patient, PatientLink
from patients.selectors import patient_for
from patients.services import consent as services
from patients.views.links import patient_only, replace_confirm
from patients.views.records import sent_channels

DOCUMENTS_PER_PAGE = 25
MANAGE = Capability.MANAGE_CONSENT_DOCUMENTS
# The session remembers what a patient just signed through a link, so the thank-you page
# can show it to them (and only to them) after the link itself has been used up.
SIGNED_SESSION_KEY = "consent_signed"


def _document_url(document: ConsentDocument) -> str:
    return reverse("patients:consent-document-detail", args=[document.public_id])


def _chart_url(patient: Patient) -> str:
    return reverse("patients:chart", args=[patient.public_id])


def _audit_view(request: HttpRequest, patient: Patient, page: str) -> None:
    audit_record(
        actor=request.user, action=Action.VIEW, target=patient, summary=page, request=request
    )


# --- Consent documents (clinic admins) ---------------------------------------------------


@capability_required(MANAGE)
def consent_document_list(request: HttpRequest) -> HttpResponse:
    documents = services.consent_documents_for(request.user).order_by("-version")
    page = Paginator(documents, DOCUMENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "current": services.consent_document_current(),
        "draft": services.consent_document_draft(),
    }
    return render(request, "patients/consent/document_list.html", context)


@capability_required(MANAGE)
def consent_document_new(request: HttpRequest) -> HttpResponse:
    draft = services.consent_document_draft()
    if draft is not None:
        messages.info(
            request,
            f"There is already a draft (version {draft.version}): edit it, or publish it before "
            "starting another.",
        )
        return redirect(reverse("patients:consent-document-edit", args=[draft.public_id]))
    # A new version is usually the current one with changes, so start from it (or from the
    # version the admin chose with ?from=).
    base = None
    if request.GET.get("from"):
        base = services.consent_document_for(request.user, request.GET["from"])
    base = base or services.consent_document_current()
    form = ConsentDocumentForm(
        request.POST or None, initial=ConsentDocumentForm.initial_for(base) if base else None
    )
    sections = section_formset(request.POST or None, document=base)
    if request.method == "POST" and form.is_valid() and sections.is_valid():
        try:
            document = services.consent_document_create_draft(
                actor=request.user,
                title=form.cleaned_data["title"],
                introduction=form.cleaned_data["introduction"],
                sections=sections.sections(),
                request=request,
            )
        except ValidationError as exc:
            _show_document_errors(form, sections, exc)
        else:
            messages.success(
                request,
                f"Draft saved as version {document.version}. Check it, then publish it when it "
                "is ready: patients sign only published versions.",
            )
            return redirect(_document_url(document))
    context = {
        "form": form,
        "sections": sections,
        "base": base,
        "title": "New consent form version",
        "submit_label": "Save draft",
        "cancel_url": reverse("patients:consent-documents"),
    }
    return render(request, "patients/consent/document_form.html", context)


@capability_required(MANAGE)
def consent_document_detail(request: HttpRequest, document_id: uuid.UUID) -> HttpResponse:
    document = services.consent_document_for(request.user, document_id)
    context = {
        "document": document,
        "current": services.consent_document_current(),
        "versions": services.consent_documents_for(request.user).order_by("-version")[:20],
    }
    return render(request, "patients/consent/document_detail.html", context)


@capability_required(MANAGE)
def consent_document_edit(request: HttpRequest, document_id: uuid.UUID) -> HttpResponse:
    document = services.consent_document_for(request.user, document_id)
    if document.published_at is not None:
        messages.error(
            request,
            f"Version {document.version} is published, so it can no longer be changed: patients "
            "may have signed it. Start a new draft from it instead.",
        )
        return redirect(_document_url(document))
    form = ConsentDocumentForm(
        request.POST or None, initial=ConsentDocumentForm.initial_for(document)
    )
    sections = section_formset(request.POST or None, document=document)
    if request.method == "POST" and form.is_valid() and sections.is_valid():
        try:
            document = services.consent_document_update_draft(
                actor=request.user,
                document=document,
                title=form.cleaned_data["title"],
                introduction=form.cleaned_data["introduction"],
                sections=sections.sections(),
                request=request,
            )
        except ValidationError as exc:
            _show_document_errors(form, sections, exc)
        else:
            messages.success(request, f"Draft version {document.version} saved.")
            return redirect(_document_url(document))
    context = {
        "form": form,
        "sections": sections,
        "document": document,
        "title": f"Edit draft version {document.version}",
        "submit_label": "Save draft",
        "cancel_url": _document_url(document),
    }
    return render(request, "patients/consent/document_form.html", context)


@capability_required(MANAGE)
def consent_document_publish(request: HttpRequest, document_id: uuid.UUID) -> HttpResponse:
    document = services.consent_document_for(request.user, document_id)
    if request.method == "POST":
        try:
            document = services.consent_document_publish(
                actor=request.user, document=document, request=request
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(
                request,
                f"Version {document.version} is published. Patients now sign this version, and "
                "everyone must sign it before their next infusion.",
            )
        return redirect(_document_url(document))
    if document.published_at is not None:
        messages.info(request, f"Version {document.version} is already published.")
        return redirect(_document_url(document))
    current = services.consent_document_current()
    signed_current = (
        ConsentSignature.objects.filter(document=current).aggregate(
            patients=Count("patient", distinct=True)
        )["patients"]
        if current
        else 0
    )
    context = {"document": document, "current": current, "signed_current": signed_current}
    return render(request, "patients/consent/document_publish.html", context)


def _show_document_errors(
    form: ConsentDocumentForm, sections: BaseConsentSectionFormSet, exc: ValidationError
) -> None:
    """The service's complaints about sections go above the sections, the rest by their fields."""
    if hasattr(exc, "error_dict") and "sections" in exc.error_dict:
        sections.service_errors = [
            message for error in exc.error_dict.pop("sections") for message in error.messages
        ]
        if not exc.error_dict:
            return
    show_service_errors(form, exc)


# --- Per patient (staff) ------------------------------------------------------------------


def consent_chart_context(user: User, patient: Patient) -> dict[str, object]:
    """What ``patients/consent/partials/_chart_consent.html`` needs on the patient chart."""
    return {
        "consent_status": services.consent_status(patient),
        "can_send_links": user_can(user, Capability.SEND_PATIENT_LINKS),
        "can_witness": services.can_witness(user),
    }


@capability_required(Capability.SEND_PATIENT_LINKS)
@require_POST
@never_cache
def consent_link(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Make a consent link and show it this once: it is not stored anywhere we can show again."""
    patient = patient_for(request.user, patient_id)
    try:
        send = request.POST.get("send") == "1"
        link, token = services.consent_link_create(
            actor=request.user,
            patient=patient,
            send_to_patient=send,
            replace_live=request.POST.get("replace") == "1",
            request=request,
        )
    except ValidationError as exc:
        if hasattr(exc, "error_dict") and "replace_live" in exc.error_dict:
            # A working link would stop working: say which, and ask before replacing it.
            return replace_confirm(
                request,
                patient=patient,
                what="consent",
                action=reverse("patients:consent-link", args=[patient.public_id]),
                problems=exc.message_dict["replace_live"],
            )
        messages.error(request, " ".join(exc.messages))
        return redirect(_chart_url(patient))
    _audit_view(request, patient, "made a consent link")
    context = {
        "patient": patient,
        "link": link,
        "url": request.build_absolute_uri(reverse("patient_links:consent", args=[token])),
        "time_zone": services.patient_time_zone(patient),
        "sent_to": sent_channels(patient, send),
    }
    return render(request, "patients/consent/link_created.html", context)


@capability_required(Capability.VIEW_PATIENTS)
@never_cache
def consent_tablet(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """The patient signs on a clinic tablet, with the signed-in staff member as witness."""
    patient = patient_for(request.user, patient_id)
    if not services.can_witness(request.user):
        raise PermissionDenied
    if request.method == "POST" and request.POST.get("cancel") == "1":
        # The patient stopped: they still hold the tablet, so it locks like after signing.
        return tablet_hand_over(request, back_to=_chart_url(patient))
    signature, form = _sign(request, patient=patient, witness=request.user)
    if signature is not None:
        messages.success(
            request,
            f"Consent version {signature.document.version} signed, witnessed by "
            f"{request.user.full_name}. Print a copy for the patient if they would like one.",
        )
        # The patient holds the tablet: a locked thank-you page until staff sign back in.
        return tablet_hand_over(
            request,
            back_to=reverse(
                "patients:consent-signature", args=[patient.public_id, signature.public_id]
            ),
        )
    if request.method != "POST":
        _audit_view(request, patient, "opened consent signing on a clinic tablet")
    context = {"patient": patient, "form": form, "cancel_url": _chart_url(patient)}
    return render(request, "patients/consent/sign_tablet.html", context)


@capability_required(Capability.VIEW_PATIENTS)
def consent_signature(
    request: HttpRequest, patient_id: uuid.UUID, signature_id: uuid.UUID
) -> HttpResponse:
    """A printable record of exactly what the patient signed, from the signature's snapshot."""
    patient = patient_for(request.user, patient_id)
    signature = services.consent_signature_for(patient, signature_id)
    _audit_view(request, patient, f"viewed consent signature {signature.public_id}")
    context = {
        "patient": patient,
        "signature": signature,
        "snapshot": signature.document_snapshot,
        "acknowledged": set(signature.sections_acknowledged),
        "time_zone": services.patient_time_zone(patient),
        "is_current": services.consent_document_current() == signature.document,
    }
    return render(request, "patients/consent/signature.html", context)


# --- The patient's page (through a link) ---------------------------------------------------


@never_cache
@patient_only
def consent_sign_by_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = link_for_token(token, PatientLink.Purpose.CONSENT)
        signature, form = _sign(request, patient=link.patient, link=link)
    except LinkError as exc:
        return _link_error(request, exc)
    if signature is not None:
        request.session[SIGNED_SESSION_KEY] = str(signature.public_id)
        return redirect(reverse("patient_links:consent-signed"))
    context = {
        "form": form,
        # The link was sent for an earlier version: say why the text may look different.
        "updated_since_sent": form is not None
        and link.consent_document_id not in (None, form.consent_document.pk),
    }
    return render(request, "patients/consent/sign_link.html", context)


@never_cache
def consent_signed(request: HttpRequest) -> HttpResponse:
    """Thank you, with a copy of what was signed: only in the browser that just signed."""
    signature = None
    if signed_id := request.session.get(SIGNED_SESSION_KEY):
        signature = (
            ConsentSignature.objects.select_related("document", "patient__preferred_location")
            .filter(public_id=signed_id, method=ConsentSignature.Method.LINK)
            .first()
        )
    if signature is None:
        return render(request, "patients/consent/signed_missing.html", status=404)
    context = {
        "signature": signature,
        "snapshot": signature.document_snapshot,
        "time_zone": services.patient_time_zone(signature.patient),
    }
    return render(request, "patients/consent/signed.html", context)


def _link_error(request: HttpRequest, exc: LinkError) -> HttpResponse:
    # 404 for a token that never was valid here, 410 for a link used, replaced or expired.
    return render(
        request, "patients/consent/link_error.html", {"message": str(exc)}, status=exc.status
    )


# --- Signing, through a link or on a tablet --------------------------------------------------


def _sign(
    request: HttpRequest,
    *,
    patient: Patient,
    link: PatientLink | None = None,
    witness: User | None = None,
) -> tuple[ConsentSignature | None, ConsentSignForm | None]:
    """Show the current version, or take the signature. Returns (signature, None) once signed,
    else (None, the form to show); the form is None when no version is published yet."""
    current = services.consent_document_current()
    if current is None:
        return None, None
    if request.method != "POST":
        return None, ConsentSignForm(document=current)
    shown = _published_document(request.POST.get("document"))
    if shown is None:
        return None, _form_again(
            current,
            request.POST.get("signed_name", ""),
            "Something was missing from the form. Read it again below, then sign.",
        )
    form = ConsentSignForm(request.POST, document=shown)
    if not form.is_valid():
        return None, form
    try:
        signature = services.consent_sign(
            patient=patient,
            document=shown,
            signed_name=form.cleaned_data["signed_name"],
            sections_acknowledged=form.acknowledged(),
            method=ConsentSignature.Method.LINK if link else ConsentSignature.Method.TABLET,
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
            via_link=link,
            witnessed_by=witness,
        )
    except ValidationError as exc:
        if "document" in exc.message_dict:
            # A new version was published while the patient was reading: show it instead.
            latest = services.consent_document_current() or current
            return None, _form_again(
                latest, form.cleaned_data["signed_name"], exc.message_dict["document"]
            )
        show_service_errors(form, exc)
        if "sections_acknowledged" in exc.message_dict:
            form.flag_unticked()
        return None, form
    return signature, None


def _form_again(
    document: ConsentDocument, signed_name: str, message: str | list[str]
) -> ConsentSignForm:
    """The form for ``document`` with every box unticked, the typed name kept, and why."""
    form = ConsentSignForm(
        {"document": str(document.public_id), "signed_name": signed_name[:200]}, document=document
    )
    form.is_valid()
    form.add_error(None, message)
    return form


def _published_document(public_id: str | None) -> ConsentDocument | None:
    try:
        return ConsentDocument.objects.filter(
            public_id=uuid.UUID(str(public_id)), published_at__isnull=False
        ).first()
    except ValueError:
        return None
