"""Reads of patient records and the access checks that go with them.

``patient_for`` is the one way pages, the API and tasks fetch a patient for a staff
member; ``clinical=True`` additionally requires the clinical-detail capability, which
the front desk and clinic admins do not have. ``contact_consents_current`` reads a
patient's current consent to be contacted on each channel.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.contrib.postgres.search import SearchQuery
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.db.models.functions import Collate, Reverse
from django.db.models.lookups import StartsWith
from django.http import Http404

from clinic.models import Location
from clinic.permissions import Capability, require, user_can
from patients.models import Channel, CommunicationConsent, Patient
from patients.models.patient import patient_search_document


def patients_visible_to(user: Any) -> QuerySet[Patient]:
    if not user_can(user, Capability.VIEW_PATIENTS):
        return Patient.objects.none()
    return Patient.objects.all()


def patient_for(
    user: Any,
    public_id: uuid.UUID | str,
    *,
    clinical: bool = False,
    refine: Callable[[QuerySet[Patient]], QuerySet[Patient]] | None = None,
) -> Patient:
    """The patient ``user`` may see; 403 without the capability, 404 if there is none.
    ``refine`` adds to the query (a page's annotations, read in the same query)."""
    require(user, Capability.VIEW_PATIENTS)
    if clinical:
        require(user, Capability.VIEW_CLINICAL)
    patients = patients_visible_to(user).select_related("preferred_location")
    if refine is not None:
        patients = refine(patients)
    try:
        return patients.get(public_id=public_id)
    except (Patient.DoesNotExist, ValueError, ValidationError):
        raise Http404("No such patient.") from None


def can_see_clinical(user: Any) -> bool:
    return user_can(user, Capability.VIEW_CLINICAL)


# --- The patient list ------------------------------------------------------------------

SEARCH_DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y")
_DATE_LIKE = re.compile(r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}/\d{1,2}/\d{4}")
_PHONE_LIKE = re.compile(r"\+?[\d\s().\-]+")
PHONE_SEARCH_MIN_DIGITS = 4
# Letters and digits: the pieces of a searched word ("o'brien" is "o" and "brien"), which
# is how PostgreSQL's text search splits the names and email it indexes.
_WORD_PIECE = re.compile(r"[^\W_]+")
# Longer than any name or email part can be (the fields hold 100 characters).
_LONGEST_PIECE = 100


def search_date(text: str) -> date | None:
    """The date of birth a search asks for ("1984-03-27" or "03/27/1984"), or None when
    the text is not shaped like a date. Raises ValueError for a date-shaped text that is
    no real date ("02/30/1984"), so the search box can say so."""
    text = text.strip()
    if not _DATE_LIKE.fullmatch(text):
        return None
    for fmt in SEARCH_DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(text)


def patients_search(
    user: Any,
    *,
    search: str = "",
    status: str = "",
    location: Location | None = None,
    condition: str = "",
) -> QuerySet[Patient]:
    """The staff patient list, with each patient's preferred location, in name order.

    ``search`` is read as a date of birth when it looks like one; as the start (with the
    country code) or the end of a phone number when it is digits (four that could be a
    year also match the year of birth); as an email
    when it has an @; and otherwise as words that must each begin a word of a name (legal
    or preferred) or of the email address ("riv" finds Rivera, "example.org" finds
    amara@example.org; "vera" does not find Rivera). Names are found through the
    patient_search_idx index (see ``patients.models.patient.SearchDocument``).
    """
    patients = patients_visible_to(user).select_related("preferred_location")
    search = search.strip()
    if search:
        patients = patients.alias(search_document=patient_search_document()).filter(
            _search_filter(search)
        )
    if status:
        patients = patients.filter(status=status)
    if location is not None:
        patients = patients.filter(preferred_location=location)
    if condition:
        patients = patients.filter(conditions__contains=[condition])
    return patients.order_by("legal_last_name", "legal_first_name", "id")


def _phone_filter(digits: str) -> Q:
    """Mobiles (stored as +<country code><number>) that start with ``digits`` after the "+"
    ("+44 20 7946") or end with them ("0142", "212 555 0142"): each a prefix match through
    its own index (patient_mobile_start_idx, patient_mobile_end_idx on the reversed number),
    where a match anywhere inside would read every patient."""
    return Q(mobile__startswith=f"+{digits}") | Q(
        StartsWith(Collate(Reverse("mobile"), "C"), digits[::-1])
    )


def _search_filter(search: str) -> Q:
    try:
        born = search_date(search)
    except ValueError:
        return Q(pk__in=[])
    if born is not None:
        return Q(date_of_birth=born)
    digits = re.sub(r"\D", "", search)
    if _PHONE_LIKE.fullmatch(search) and len(digits) >= PHONE_SEARCH_MIN_DIGITS:
        if re.fullmatch(r"(19|20)\d\d", search):  # a year of birth, or a phone's last four
            return _phone_filter(digits) | Q(date_of_birth__year=int(search))
        return _phone_filter(digits)
    words = _words_query(search)
    if words is None:
        return Q(pk__in=[])
    if "@" in search:
        # The index finds the addresses with these words; the address must hold the text.
        return Q(search_document=words, email__icontains=search)
    return Q(search_document=words)


def _words_query(search: str) -> SearchQuery | None:
    """A text-search query for rows with a word beginning with each piece of each searched
    word, or None when nothing searched could match (no letters or digits, or a piece
    longer than any field)."""
    pieces = _WORD_PIECE.findall(search.lower())
    if not pieces or any(len(piece) > _LONGEST_PIECE for piece in pieces):
        return None
    # Pieces are letters and digits only, so none can be read as query syntax.
    return SearchQuery(
        " & ".join(f"{piece}:*" for piece in pieces), config="simple", search_type="raw"
    )


# --- Contact consent ---------------------------------------------------------------------


@dataclass(frozen=True)
class ChannelConsent:
    channel: str
    label: str
    latest: CommunicationConsent | None

    @property
    def granted(self) -> bool:
        return self.latest is not None and self.latest.granted


def contact_consents_current(patient: Patient) -> list[ChannelConsent]:
    """The current consent on each channel, in one query (the latest row per channel)."""
    latest = {
        row.channel: row
        for row in CommunicationConsent.objects.filter(patient=patient)
        .select_related("recorded_by")
        .order_by("channel", "-recorded_at", "-id")
        .distinct("channel")
    }
    return [ChannelConsent(value, label, latest.get(value)) for value, label in Channel.choices]


def contact_consent_history(patient: Patient) -> QuerySet[CommunicationConsent]:
    return patient.contact_consents.select_related("recorded_by").order_by("-recorded_at", "-id")
