"""Writing messages to the outbox (``outbox_enqueue``), and claiming and sending them.

Exactly once is three things together:

1. **The claim.** ``outbox_claim_due`` takes due rows in one statement (``SELECT … FOR UPDATE
   SKIP LOCKED`` inside an ``UPDATE``): each row gets a fresh ``claim_token`` and a lease
   (``claimed_until``). Two dispatchers racing (two beats, a beat and a manual run) get
   disjoint rows, and a claimed row is not claimed again while its lease runs.
2. **The lease.** A worker sends a row only while its token is still the row's token
   (``outbox_send`` checks under the row lock). A claim whose lease ran out, because the
   worker holding it died or its task was lost, is taken over by the next claim with a new
   token; the old task, if it ever runs, finds the token changed and does nothing.
3. **The provider's idempotency key.** ``outbox_send`` holds the row lock (a transaction)
   across the call to the provider and marks the row sent in that same transaction. If the
   worker dies mid-send the transaction rolls back and the row is still "sending" under
   the dead claim; when the lease runs out another worker sends it again with the same
   idempotency key, and the provider, which may already have delivered it, answers with
   its first answer instead of delivering twice (email: the same Message-ID). While a send
   is running its row stays locked, and claims skip locked rows, so a lease that runs out
   during a slow send is not taken over until the sender is really gone.

Holding a row lock across a network call costs one database connection per send in flight
for at most the send's timeout (``SMS_TIMEOUT_SECONDS``, the SMTP timeout), which settings
keep shorter than the lease. Tasks are thin (``clinic.messaging.dispatch``): beat runs
``outbox_dispatch`` every minute, which claims and queues one ``send_outbox_message(id,
token)`` per row; nothing waits in Redis with an ETA, and a task Redis loses is recovered
by the lease.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from clinic.messaging import channels, rules
from clinic.messaging.registry import NotWanted, Rendered, kind_named
from clinic.models import Location, OutboxChannel, OutboxMessage, OutboxStatus

logger = logging.getLogger(__name__)


def outbox_enqueue(
    *,
    key: str,
    kind: str,
    channel: str,
    patient: Any = None,
    appointment: Any = None,
    location: Location | None = None,
    recipient: str = "",
    context: dict[str, Any] | None = None,
    not_before: datetime | None = None,
    urgent: bool = False,
) -> OutboxMessage:
    """The message named ``key``: created, due at ``not_before`` (now by default), in the
    caller's transaction; or the existing one, unchanged, if the key is taken (enqueueing
    twice sends once). ``location`` defaults to the appointment's, for quiet hours.

    A text due inside quiet hours is planned out of them here (``rules.planned_send_at``: a
    reminder earlier, anything else after), and the move noted in ``context["held"]``."""
    if channel not in OutboxChannel.values:
        raise ValueError(f"channel must be one of {OutboxChannel.values}, not {channel!r}.")
    if location is None and appointment is not None:
        location = appointment.location
    context = dict(context or {})
    not_before, context = planned(
        kind=kind,
        channel=channel,
        urgent=urgent,
        due=not_before,
        context=context,
        location=location,
        patient=patient,
    )
    with transaction.atomic():
        message, _ = OutboxMessage.objects.get_or_create(
            idempotency_key=key,
            defaults={
                "kind": kind,
                "channel": channel,
                "patient": patient,
                "appointment": appointment,
                "location": location,
                "recipient": recipient,
                "context": context,
                "not_before": not_before,
                "urgent": urgent,
            },
        )
    return message


def planned(
    *,
    kind: str,
    channel: str,
    urgent: bool,
    due: datetime | None,
    context: dict[str, Any],
    location: Location | None,
    patient: Any,
) -> tuple[datetime, dict[str, Any]]:
    """When a message due at ``due`` (None: now) is to go, and its context, with
    ``context["held"]`` when quiet hours moved it (``rules.planned_send_at``)."""
    now = timezone.now()
    due = due or now
    at, moved = rules.planned_send_at(
        kind_name=kind,
        channel=channel,
        urgent=urgent,
        due=due,
        now=now,
        zone=rules.time_zone_for(location=location, patient=patient),
        limit=rules.useful_limit(OutboxMessage(context=context)),
    )
    context = {key: value for key, value in context.items() if key != "held"}
    if moved:
        context["held"] = {"why": rules.HELD_QUIET_HOURS, "due": _iso(due)}
    return at, context


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def outbox_skip_without_consent(*, patient: Any, channel: str) -> int:
    """Mark the patient's messages still waiting on ``channel`` as not sent ("no_consent"),
    except the kinds allowed without consent; returns how many. Messages already being sent
    are left to the worker, whose rules check consent again right before sending."""
    return (
        OutboxMessage.objects.filter(patient=patient, channel=channel, status=OutboxStatus.PENDING)
        .exclude(kind__in=rules.CONSENT_EXEMPT_KINDS)
        .update(
            status=OutboxStatus.SKIPPED,
            skip_reason="no_consent",
            skip_detail="The patient withdrew consent before it was sent.",
            claim_token=None,
            claimed_until=None,
        )
    )


# --- Claiming -----------------------------------------------------------------------------

# Due: waiting and its time has come, or being sent under a lease that ran out (a worker
# died). Oldest first; rows another transaction holds (a claim, a send) are skipped.
_CLAIM_SQL = """
WITH due AS (
    SELECT id, status AS was
    FROM {table}
    WHERE status IN (%(pending)s, %(sending)s)
      AND ((status = %(pending)s AND not_before <= %(now)s)
        OR (status = %(sending)s AND claimed_until < %(now)s))
    ORDER BY not_before
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
UPDATE {table} AS message
SET status = %(sending)s, claim_token = gen_random_uuid(), claimed_until = %(until)s
FROM due
WHERE message.id = due.id
RETURNING message.id, message.claim_token, due.was
"""


def outbox_claim_due(
    *, limit: int, lease: timedelta, now: datetime | None = None
) -> list[tuple[int, uuid.UUID]]:
    """Claim up to ``limit`` due messages for ``lease``: each becomes "sending" with a new
    claim token. Returns ``(id, claim_token)`` pairs, for ``outbox_send``. One statement."""
    now = now or timezone.now()
    sql = _CLAIM_SQL.format(table=connection.ops.quote_name(OutboxMessage._meta.db_table))
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                "pending": OutboxStatus.PENDING.value,
                "sending": OutboxStatus.SENDING.value,
                "now": now,
                "until": now + lease,
                "limit": limit,
            },
        )
        rows = cursor.fetchall()
    taken_over = sum(1 for _id, _token, was in rows if was == OutboxStatus.SENDING)
    if taken_over:
        logger.warning(
            "took over %d outbox message(s) whose lease ran out (a worker stopped mid-send?)",
            taken_over,
        )
    return [(message_id, _as_uuid(token)) for message_id, token, _was in rows]


# --- Sending ------------------------------------------------------------------------------


def outbox_send(
    message_id: int, claim_token: uuid.UUID | str, *, now: datetime | None = None
) -> str:
    """Send the message claimed with ``claim_token``, if it still is; returns its status
    afterwards ("missing" if the row is gone).

    Under the row lock: ``rules.decide`` says send, defer (back to waiting until then) or
    skip (with the reason); a message to send goes to its recipient as they are now (none:
    skipped as "no_address"), written by its kind and sent through its channel with its
    idempotency key, and is recorded as sent. A failed send is retried later with backoff,
    up to ``OUTBOX_MAX_ATTEMPTS`` (a refusal that cannot change fails at once). See the
    module docstring for why the lock is held across the provider call."""
    token = _as_uuid(claim_token)
    with transaction.atomic():
        message = (
            OutboxMessage.objects.select_for_update(of=("self",))
            .select_related("patient__preferred_location", "location", "appointment")
            .filter(pk=message_id)
            .first()
        )
        if message is None:
            return "missing"
        if message.status != OutboxStatus.SENDING or message.claim_token != token:
            # Sent, skipped or re-claimed by someone else since this claim was made.
            return message.status
        now = now or timezone.now()
        try:
            # A savepoint: a database error in the rules or while rendering leaves the row
            # writable, to record the failed attempt.
            with transaction.atomic():
                outcome = _attempt(message, now)
        except Exception as exc:
            return _attempt_failed(message, exc, now)
        if isinstance(outcome, NotWanted):
            return _skip(message, outcome)
        if isinstance(outcome, rules.Decision):
            return _defer(message, outcome)
        to, rendered, reference = outcome
        message.status = OutboxStatus.SENT
        message.recipient = to
        message.subject = rendered.subject[:200]
        message.body = rendered.body
        message.provider_reference = reference[:100]
        message.sent_at = timezone.now()
        _save(message, "recipient", "subject", "body", "provider_reference", "sent_at")
    logger.info(
        "sent outbox message %s (%s by %s)", message.public_id, message.kind, message.channel
    )
    return message.status


def _attempt(
    message: OutboxMessage, now: datetime
) -> NotWanted | rules.Decision | tuple[str, Rendered, str]:
    """Why not to send (skip), when to try again and why (a deferral), or what was sent: the
    recipient, the rendered message and the provider's reference."""
    decision = rules.decide(message, now)
    if decision.skip is not None:
        return decision.skip
    if decision.defer_until is not None:
        return decision
    kind = kind_named(message.kind)
    if kind is None:  # decide skips these; kept so a changed rule cannot crash here
        return NotWanted("unknown_kind", f"No message kind is called {message.kind}.")
    to = channels.recipient_for(message)
    if not to:
        return _no_address(message)
    rendered = kind.render(message)
    if message.channel == OutboxChannel.EMAIL:
        reference = channels.send_email(message, rendered, to=to)
    else:
        reference = channels.send_sms(message, rendered, to=to)
    return to, rendered, reference


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed send: ``OUTBOX_RETRY_BASE_SECONDS``,
    doubling each time, at most ``OUTBOX_RETRY_MAX_SECONDS``."""
    base, most = settings.OUTBOX_RETRY_BASE_SECONDS, settings.OUTBOX_RETRY_MAX_SECONDS
    return timedelta(seconds=min(base * 2 ** min(attempts - 1, 30), most))


def _attempt_failed(message: OutboxMessage, exc: Exception, now: datetime) -> str:
    message.attempts += 1
    message.last_error = error_text(exc)
    permanent = isinstance(exc, channels.ChannelError) and exc.permanent
    if permanent or message.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        message.status = OutboxStatus.FAILED
    else:
        message.status = OutboxStatus.PENDING
        message.not_before = now + retry_delay(message.attempts)
    _save(message, "attempts", "last_error", "not_before")
    logger.warning(
        "outbox message %s (%s by %s): attempt %d failed, now %s: %s",
        message.public_id,
        message.kind,
        message.channel,
        message.attempts,
        message.status,
        message.last_error,
    )
    return message.status


def error_text(exc: Exception) -> str:
    """What went wrong, fit to store and log: a channel's own sentence, or for anything else
    only the exception's class and where it was raised (its text may quote the patient)."""
    if isinstance(exc, channels.ChannelError):
        return f"{type(exc).__name__}: {exc}"[:500]
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" in {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{where} (its text is not kept: it may hold patient data)."


def _skip(message: OutboxMessage, why: NotWanted) -> str:
    message.status = OutboxStatus.SKIPPED
    message.skip_reason = why.reason
    message.skip_detail = why.detail[:300]
    _save(message, "skip_reason", "skip_detail")
    logger.info("skipped outbox message %s (%s)", message.public_id, why.reason)
    return message.status


def _defer(message: OutboxMessage, decision: rules.Decision) -> str:
    """Back to waiting until the decision's time, noting why in ``context["held"]`` (the
    time it was due before, for the chart)."""
    context = dict(message.context or {})
    first_due = (context.get("held") or {}).get("due") or _iso(message.not_before)
    context["held"] = {"why": decision.held, "due": first_due}
    message.context = context
    message.status = OutboxStatus.PENDING
    message.not_before = decision.defer_until or message.not_before
    _save(message, "not_before", "context")
    return message.status


def _no_address(message: OutboxMessage) -> NotWanted:
    if message.patient_id is None:
        return NotWanted("no_address", "The message names no recipient.")
    what = "email address" if message.channel == OutboxChannel.EMAIL else "mobile number"
    return NotWanted("no_address", f"The patient has no {what} on record.")


def _save(message: OutboxMessage, *fields: str) -> None:
    """Save ``fields`` and the status, and end the claim unless still sending."""
    if message.status != OutboxStatus.SENDING:
        message.claim_token = None
        message.claimed_until = None
    message.save(update_fields=["status", "claim_token", "claimed_until", *fields])


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
