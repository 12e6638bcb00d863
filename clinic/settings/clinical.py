"""The clinic's rules, from DOMAIN.md, each of which a deployment may change through the
environment: messages to patients, screening, scheduling, follow-ups, the chair (doses,
vitals, recovery, time guards) and outcomes. ``clinic.settings`` imports them all."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

from clinic.env import env

# --- Rules for messages to patients (DOMAIN.md, "Messages to patients") -------------------
# A consultation booked online whose reason mentions one of these raises a safety alert,
# like PHQ-9 question 9 (patients.services.safety). Comma-separated; matched as whole words,
# whatever the case, punctuation, hyphens and spacing ("self-harm" = "Self  harm").
BOOKING_TRIAGE_PHRASES = env.list(
    "BOOKING_TRIAGE_PHRASES",
    [
        "suicide",
        "suicides",
        "suicidal",
        "suicidality",
        "kill myself",
        "killing myself",
        "end my life",
        "ending my life",
        "take my own life",
        "take my life",
        "end it all",
        "self harm",
        "selfharm",
        "self harming",
        "self injury",
        "hurt myself",
        "hurting myself",
        "harm myself",
        "harming myself",
        "cut myself",
        "cutting myself",
        "want to die",
        "wanting to die",
        "wanna die",
        "better off dead",
        "wish i was dead",
        "wish i were dead",
        "no reason to live",
        # Said without the words suicide or self-harm (passive thoughts of death are asked
        # about as such: PHQ-9 question 9 is "better off dead").
        "better off without me",
        "no point in living",
        "no point living",
        "not worth living",
        "don't want to live",
        "dont want to live",
        "do not want to live",
        "don't want to be alive",
        "dont want to be alive",
        "do not want to be alive",
        "don't want to be here anymore",
        "dont want to be here anymore",
        "want to disappear",
        "thoughts of dying",
        "overdose",
        "overdosed",
        "overdosing",
    ],
)
if not all(any(ch.isalnum() for ch in phrase) for phrase in BOOKING_TRIAGE_PHRASES):
    raise ImproperlyConfigured(
        "BOOKING_TRIAGE_PHRASES must be words or phrases separated by commas, e.g. "
        "suicide,self harm,want to die."
    )

# No non-urgent text between these hours, location time (start, end): deferred to the end.
MESSAGE_QUIET_HOURS = (
    env.int("MESSAGE_QUIET_HOURS_START", 21, min_value=0, max_value=23),
    env.int("MESSAGE_QUIET_HOURS_END", 8, min_value=0, max_value=23),
)
# Non-urgent texts per patient: per local day, and per rolling 7 days.
SMS_DAILY_CAP = env.int("SMS_DAILY_CAP", 1, min_value=1)
SMS_WEEKLY_CAP = env.int("SMS_WEEKLY_CAP", 3, min_value=1)


# Appointment reminders, in hours before the start (one kind of message each). Whole days
# (48) are counted on the location's clock: 2 days before at the same local time.
def _reminder_hours(items: list[str]) -> tuple[int, ...]:
    if not items or not all(item.isdigit() and 0 < int(item) <= 720 for item in items):
        raise ImproperlyConfigured(
            f"REMINDER_HOURS={','.join(items)!r} is not valid: give whole hours from 1 to 720 "
            "separated by commas, e.g. 48,2."
        )
    return tuple(sorted({int(item) for item in items}, reverse=True))


REMINDER_HOURS = _reminder_hours(env.list("REMINDER_HOURS", ["48", "2"]))

# --- Clinical defaults (DOMAIN.md); each may be overridden by SCREENING_<NAME> ------------
# patients.screening validates them together (e.g. review below contraindicated).
SCREENING_THRESHOLDS = {
    name: env.int(f"SCREENING_{name.upper()}", default, min_value=1)
    for name, default in {
        "bp_contraindicated_systolic": 160,
        "bp_contraindicated_diastolic": 100,
        "bp_review_systolic": 140,
        "bp_review_diastolic": 90,
        "min_age": 18,
        "older_age": 65,
        "benzo_review_lorazepam_mg": 2,
    }.items()
}

# --- Scheduling (DOMAIN.md) -----------------------------------------------------------------
INFUSIONS_PER_NURSE = env.int("INFUSIONS_PER_NURSE", 2, min_value=1, max_value=10)
BOOKING_HORIZON_DAYS = env.int("BOOKING_HORIZON_DAYS", 30, min_value=1, max_value=365)
BOOKING_LIMIT_PER_IP_PER_HOUR = env.int("BOOKING_LIMIT_PER_IP_PER_HOUR", 5, min_value=1)
BOOKING_LIMIT_PER_CONTACT_PER_DAY = env.int("BOOKING_LIMIT_PER_CONTACT_PER_DAY", 3, min_value=1)
CANCEL_NOTICE_HOURS = env.int("CANCEL_NOTICE_HOURS", 24, min_value=0, max_value=168)
# A booking made online can still be moved or cancelled online this long after it was made,
# whatever CANCEL_NOTICE_HOURS says (never once it has started): 0 turns the grace off.
ONLINE_CHANGE_GRACE_MINUTES = env.int(
    "ONLINE_CHANGE_GRACE_MINUTES", 60, min_value=0, max_value=1440
)
COURSE_DEFAULT_INFUSIONS = env.int("COURSE_DEFAULT_INFUSIONS", 6, min_value=4, max_value=10)
COURSE_WINDOW_DAYS = env.int("COURSE_WINDOW_DAYS", 21, min_value=14, max_value=28)
COURSE_MIN_GAP_HOURS = env.int("COURSE_MIN_GAP_HOURS", 24, min_value=24, max_value=168)
COURSE_BOOSTER_INTERVAL_DAYS = env.int(
    "COURSE_BOOSTER_INTERVAL_DAYS", 28, min_value=7, max_value=182
)


# --- Follow-ups (DOMAIN.md, "Follow-up"; patients.followups) -------------------------------
def _days_list(name: str, default: list[int]) -> list[int]:
    values = env.list(name, [str(day) for day in default])
    if not values or not all(value.isdigit() and 1 <= int(value) <= 365 for value in values):
        raise ImproperlyConfigured(
            f"{name} must be whole numbers of days from 1 to 365, separated by commas (e.g. 7,28)."
        )
    return sorted({int(value) for value in values})


# Questionnaires this many days after the first infusion of an induction course, then one
# every FOLLOWUP_MAINTENANCE_INTERVAL_DAYS after the last of them while the course goes on.
FOLLOWUP_AFTER_INDUCTION_DAYS = _days_list("FOLLOWUP_AFTER_INDUCTION_DAYS", [7, 28])
FOLLOWUP_MAINTENANCE_INTERVAL_DAYS = env.int(
    "FOLLOWUP_MAINTENANCE_INTERVAL_DAYS", 30, min_value=7, max_value=182
)
FOLLOWUP_LINK_LIFETIME_DAYS = env.int("FOLLOWUP_LINK_LIFETIME_DAYS", 7, min_value=1, max_value=30)
# Local hour (location time) at which questionnaires and the next-day check-in are sent.
FOLLOWUP_QUESTIONNAIRE_HOUR = env.int("FOLLOWUP_QUESTIONNAIRE_HOUR", 10, min_value=0, max_value=23)
FOLLOWUP_CHECKIN_HOUR = env.int("FOLLOWUP_CHECKIN_HOUR", 10, min_value=0, max_value=23)
# Questionnaires whose day passed while the daily task was not running are still sent up
# to this many days late.
FOLLOWUP_CATCH_UP_DAYS = env.int("FOLLOWUP_CATCH_UP_DAYS", 3, min_value=0, max_value=14)


# --- Infusion sessions (DOMAIN.md); unset variables keep the defaults in infusions/ --------
def _overrides(prefix: str, names: list[str], reader: Any = env.str) -> dict[str, Any]:
    return {
        name: reader(f"{prefix}{name.upper()}")
        for name in names
        if env.str(f"{prefix}{name.upper()}")
    }


DOSE_LIMITS = _overrides(
    "DOSE_",
    [
        "default_mg_per_kg",
        "min_mg_per_kg",
        "max_mg_per_kg",
        "default_duration_minutes",
        "min_duration_minutes",
        "max_duration_minutes",
    ],
)
VITALS_ALERT_THRESHOLDS = _overrides(
    "ALERT_",
    [
        "systolic_at_or_above",
        "diastolic_at_or_above",
        "heart_rate_above",
        "heart_rate_below",
        "spo2_below",
        "respiratory_rate_below",
    ],
    reader=lambda name: env.int(name, 0),
)
PRE_INFUSION_BP_LIMITS = _overrides(
    "PRE_INFUSION_",
    ["caution_systolic", "caution_diastolic", "hold_systolic", "hold_diastolic"],
    reader=lambda name: env.int(name, 0),
)
VITALS_INTERVAL_INFUSING_MINUTES = env.int("VITALS_INTERVAL_INFUSING_MINUTES", 10, min_value=1)
VITALS_INTERVAL_RECOVERING_MINUTES = env.int("VITALS_INTERVAL_RECOVERING_MINUTES", 15, min_value=1)
# Hours without food or drink (other than water) before an infusion; 0 means no rule.
PRE_INFUSION_FASTING_HOURS = env.int("PRE_INFUSION_FASTING_HOURS", 4, min_value=0)
# The lowest modified Aldrete score (of 10) at which a patient may go home.
DISCHARGE_MIN_ALDRETE = env.int("DISCHARGE_MIN_ALDRETE", 9, min_value=0, max_value=10)

# --- Time guards at the chair (DOMAIN.md, "Time guards at the chair") ----------------------
# Check-in on the appointment's local day only, and not more than this many minutes early.
CHECK_IN_EARLY_MINUTES = env.int("CHECK_IN_EARLY_MINUTES", 60, min_value=0, max_value=720)
# A patient may be marked a no-show this many minutes after the start at the earliest.
NO_SHOW_GRACE_MINUTES = env.int("NO_SHOW_GRACE_MINUTES", 15, min_value=0, max_value=240)
# A check-in, no-show or cancellation may be undone (by the same role, with a reason) for
# this many minutes; 0 turns undo off.
UNDO_MINUTES = env.int("UNDO_MINUTES", 15, min_value=0, max_value=240)
# Ending an infusion more than this many minutes before its planned duration is "stopped
# early" (with a reason) or needs a physician's acknowledgement.
INFUSION_END_TOLERANCE_MINUTES = env.int(
    "INFUSION_END_TOLERANCE_MINUTES", 5, min_value=0, max_value=60
)
# Least time in recovery before discharge, unless a physician overrides it with a reason.
MIN_RECOVERY_MINUTES = env.int("MIN_RECOVERY_MINUTES", 30, min_value=0, max_value=480)
# Spravato (esketamine) under its REMS (infusions.rems): at least 2 hours of monitoring after
# the dose (the REMS minimum: a clinic may ask for more, never less), blood pressure about 40
# minutes after the dose (give or take the tolerance) and within the last minutes before
# discharge, and the Patient Monitoring Form within 7 days.
ESKETAMINE_MIN_MONITORING_MINUTES = env.int(
    "ESKETAMINE_MIN_MONITORING_MINUTES", 120, min_value=120, max_value=480
)
REMS_BP_AFTER_DOSE_MINUTES = env.int("REMS_BP_AFTER_DOSE_MINUTES", 40, min_value=20, max_value=90)
REMS_BP_AFTER_DOSE_TOLERANCE_MINUTES = env.int(
    "REMS_BP_AFTER_DOSE_TOLERANCE_MINUTES", 10, min_value=0, max_value=20
)
REMS_BP_BEFORE_DISCHARGE_MINUTES = env.int(
    "REMS_BP_BEFORE_DISCHARGE_MINUTES", 30, min_value=5, max_value=120
)
REMS_FORM_DUE_DAYS = 7
# Questionnaires count as "before this infusion" when taken this many hours before it at most.
PRE_INFUSION_QUESTIONNAIRE_HOURS = env.int(
    "PRE_INFUSION_QUESTIONNAIRE_HOURS", 72, min_value=1, max_value=336
)

# --- Outcomes (outcomes.scores) ----------------------------------------------------------
# A rise of at least this many points since the previous score counts as "worsened" (a
# prompt to offer a booster); keys are questionnaire instruments.
OUTCOME_WORSENING_POINTS = {
    instrument: env.int(f"OUTCOME_WORSENING_{instrument.upper()}", default, min_value=1)
    for instrument, default in {"phq9": 5, "gad7": 4, "pcl5": 10, "pain_nrs": 2}.items()
}
# A patient in an induction or maintenance course with no questionnaire for this many days
# is overdue for one.
OUTCOME_OVERDUE_DAYS = env.int("OUTCOME_OVERDUE_DAYS", 30, min_value=1, max_value=365)
# The worker counts the dashboard's figures again this often (outcomes.facts): the
# dashboard shows them as of the last count.
OUTCOME_FACTS_REFRESH_MINUTES = env.int(
    "OUTCOME_FACTS_REFRESH_MINUTES", 5, min_value=1, max_value=60
)

# --- Money (billing) -----------------------------------------------------------------------
# The clinic's one currency, an ISO 4217 code: prices, invoices and payments are all in it.
BILLING_CURRENCY = env.str("BILLING_CURRENCY", "USD").upper()


def _check_currency() -> None:
    from billing.money import currency_problem

    problem = currency_problem(BILLING_CURRENCY)
    if problem:
        raise ImproperlyConfigured(f"BILLING_CURRENCY: {problem}")


_check_currency()


def _check_clinical_numbers() -> None:
    # The infusions modules are pure (no Django at import), so a bad number stops start-up
    # here rather than in front of a patient.
    from infusions.dosing import DoseLimits
    from infusions.vitals import AlertThresholds, CautionHold

    for setting, cls in [
        ("DOSE_LIMITS", DoseLimits),
        ("VITALS_ALERT_THRESHOLDS", AlertThresholds),
        ("PRE_INFUSION_BP_LIMITS", CautionHold),
    ]:
        try:
            cls.from_dict(globals()[setting])
        except (TypeError, ValueError) as exc:
            raise ImproperlyConfigured(
                f"{setting} (from the environment) is not valid: {exc}"
            ) from None


_check_clinical_numbers()
