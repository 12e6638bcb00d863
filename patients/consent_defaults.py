"""The clinic's first consent form, so a new clinic has something to review, adapt and sign.

``seed_consent_document()`` publishes it as version 1 when no consent document exists
yet; run again, it does nothing. A clinic admin changes it by starting a new draft from
it under Consent forms: version 1 itself is never edited once published.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from clinic.audit import Action, audit_record
from patients.models import ConsentDocument
from patients.services.consent import clean_consent_content, lock_consent_documents

TITLE = "Consent to ketamine infusion treatment"

INTRODUCTION = (
    "Please read each section below. Tick the box under a section once you have read and "
    "understood it, and ask us about anything that is unclear before you sign: a member of "
    "the team will go through it with you. Signing says that you agree to start treatment; "
    "it does not oblige you to continue."
)

SECTIONS: list[dict[str, str]] = [
    {
        "heading": "What ketamine infusion treatment is",
        "text": (
            "Ketamine is a medicine first used as an anaesthetic. Given at much lower doses "
            "through a drip into a vein, it is used to treat depression that has not improved "
            "with other treatments, and also major and bipolar depression, suicidal thoughts, "
            "anxiety disorders, OCD, PTSD, and some long-lasting pain conditions such as nerve "
            "pain, fibromyalgia, CRPS and migraine.\n\n"
            "Treatment usually starts with a series of about six infusions over two to three "
            "weeks. Some people then have single “booster” infusions when symptoms come back. "
            "It does not help everyone, and how long the benefit lasts differs from person to "
            "person. We ask you to fill in short symptom questionnaires so that you and your "
            "clinician can see whether it is working."
        ),
    },
    {
        "heading": "How a session goes",
        "text": (
            "A nurse places a small tube (an IV line) in a vein in your arm or hand. The dose is "
            "worked out from your weight and runs in slowly, usually over about 40 minutes.\n\n"
            "Throughout the infusion we measure your blood pressure, heart rate and oxygen "
            "level at regular intervals, and check how you are feeling. A member of the team "
            "is always close by. Afterwards you rest in the chair for about 45 minutes while "
            "the effects wear off, and we keep checking you. You go home when your readings "
            "are close to where they started and you are alert and steady on your feet."
        ),
    },
    {
        "heading": "Common side effects",
        "text": (
            "During and shortly after the infusion many people feel detached or “floaty”, as "
            "if watching themselves or their surroundings from a distance (dissociation). Other "
            "common effects are sleepiness, nausea or vomiting, dizziness, headache, blurred or "
            "double vision, a rise in blood pressure and heart rate, feeling anxious or uneasy, "
            "and seeing or hearing things that are not there.\n\n"
            "These effects usually fade within an hour or so of the infusion ending. Tell us if "
            "anything is unpleasant: we can slow or pause the infusion, and we can give you "
            "medicine for nausea."
        ),
    },
    {
        "heading": "Less common risks and what we do about them",
        "text": (
            "Less often, blood pressure or heart rate rises more than expected, breathing "
            "slows, the oxygen level in the blood falls, or a person becomes confused or very "
            "distressed. An allergic reaction is possible but rare.\n\n"
            "This is why we monitor you during every infusion and recovery. If a reading "
            "crosses the clinic's safety limits, the team slows or stops the infusion, gives "
            "oxygen or other treatment as needed, and a clinician stays with you until you are "
            "well. If you ever need more care than the clinic can give, we call the emergency "
            "services. Tell us about any new illness, medicine or health change before each "
            "session, because some conditions make ketamine unsafe."
        ),
    },
    {
        "heading": "Pregnancy and breastfeeding",
        "text": (
            "Ketamine treatment is not given during pregnancy or while breastfeeding. If you "
            "could become pregnant, tell us before each session if you are, or might be, "
            "pregnant; we may ask you to take a pregnancy test. Tell us straight away if you "
            "become pregnant during a course of treatment."
        ),
    },
    {
        "heading": "After your infusion: getting home, driving and decisions",
        "text": (
            "Ketamine affects your judgement, reactions and coordination for some hours, even "
            "once you feel normal. An adult you know must take you home after every infusion: "
            "we will not let you leave alone, drive yourself or travel alone by taxi or public "
            "transport.\n\n"
            "Until the next day, do not drive, cycle, operate machinery, look after others on "
            "your own, drink alcohol, or make important decisions such as signing contracts. "
            "If you are not sure whether something is safe, wait until the next day or ask us."
        ),
    },
    {
        "heading": "Misuse and dependence",
        "text": (
            "Ketamine can be misused, and repeated use outside medical care can lead to "
            "dependence. In the United States it is a controlled substance (Schedule III). We "
            "give it only here in the clinic, under supervision; you never take any home, and "
            "we record every dose given. Please tell us about any past or present use of "
            "alcohol, drugs or ketamine itself: it helps us keep you safe and does not by "
            "itself rule you out."
        ),
    },
    {
        "heading": "Other treatment options and your right to stop",
        "text": (
            "Ketamine infusion is one option among several. Others include medicines taken by "
            "mouth, talking therapies, transcranial magnetic stimulation (TMS), "
            "electroconvulsive therapy (ECT) and esketamine nasal spray. Your clinician can "
            "talk through which may suit you, including continuing your current care without "
            "ketamine.\n\n"
            "Taking part is your choice. You can decide not to start, ask to stop during an "
            "infusion, or stop the course at any time, without giving a reason and without it "
            "affecting the rest of your care."
        ),
    },
    {
        "heading": "Your privacy and how to reach us",
        "text": (
            "Your records are confidential. Only the staff who need them to care for you can "
            "see them, and every time someone opens your record it is logged.\n\n"
            "Appointment reminders by text message or email contain only the clinic's name, "
            "the time and place, and how to contact us: never your diagnosis or the name of a "
            "medicine. You choose separately whether we may text you and whether we may email "
            "you, and you can change your mind at any time (for texts, reply STOP).\n\n"
            "If you have questions, or feel unwell after an infusion, call the clinic. If you "
            "ever have thoughts of harming yourself, call or text 988 (Suicide & Crisis "
            "Lifeline) or go to your nearest emergency department."
        ),
    },
]


@transaction.atomic
def seed_consent_document() -> ConsentDocument | None:
    """Publish the default consent form as version 1, unless any consent document exists.

    Returns the new document, or None when there was already one (nothing is changed).
    """
    lock_consent_documents()
    if ConsentDocument.objects.exists():
        return None
    title, introduction, sections = clean_consent_content(TITLE, INTRODUCTION, SECTIONS)
    now = timezone.now()
    document = ConsentDocument.objects.create(
        title=title,
        version=1,
        introduction=introduction,
        sections=sections,
        created_at=now,
        published_at=now,
    )
    audit_record(
        actor=None,
        action=Action.CREATE,
        target=document,
        summary="published the default consent form as version 1 (seed)",
    )
    return document
