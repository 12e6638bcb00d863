"""Writing messages to the outbox (``outbox_enqueue``), and claiming and sending them.

Exactly once is three things together:

1. **The claim.** ``outbox_claim_due`` takes due rows in one statement (``SELECT … FOR UPDATE
   SKIP LOCKED`` inside an ``UPDATE``): each row gets a fresh ``claim_token`` and a lease
   (``claimed_until``). Two dispatchers racing (two beats, a beat and a manual run) get
   disjoint rows, and a claimed row is not claimed again while its lease runs.
2. **The lease.** A worker sends a row only while its token is still the row's token
   (``outbox_send_batch`` locks only the rows whose token still matches). A claim whose lease
   ran out, because the worker holding it died or its task was lost, is taken over by the
   next claim with a new token; the old task, if it ever runs, finds the token changed and
   does nothing.
3. **The provider's idempotency key.** ``outbox_send_batch`` holds the rows' locks (a
   transaction) across the calls to the provider and records the results in that same
   transaction. If the worker (or the database) dies mid-batch the transaction rolls back
   and the rows are still "sending" under the dead claim; when the lease runs out another
   worker sends them again with the same idempotency keys, and the provider, which may
   already have delivered some, answers those with its first answer instead of delivering
   twice (email: the same Message-ID). While a batch is running its rows stay locked, and
   claims skip locked rows, so a lease that runs out during a slow batch is not taken over
   until the sender is really gone.

So a batch is only as safe as its provider's idempotency keys: a batch that dies after
sending 150 of its 200 texts has all 150 asked for again. The dispatcher batches only the
messages of a channel whose provider honours the keys (``channels.honours_idempotency_keys``:
texts through an HTTP provider that does); every other message (email, Twilio) is sent in a
batch of one, its own transaction, as before, where a crash can repeat at most that one.

Sending a batch costs a handful of statements whatever its size: the lock, the consent of
its patients (``rules.consenting``), the texts counting towards the caps when it holds
capped texts (``rules.counted_texts``), a savepoint around the rules and templates, one
``UPDATE … FROM unnest(…)`` for every outcome, and the commit (plus what a kind's own rules
read). Holding row locks across network calls costs one
database connection per batch in flight for at most its sends' timeouts
(``SMS_TIMEOUT_SECONDS``, the SMTP timeout); a provider that does not answer at all stops
the batch (the rest wait for the next try) rather than make each message wait out the
timeout. Tasks are thin (``clinic.messaging.dispatch``): beat runs ``outbox_dispatch`` every
minute, which claims and queues ``send_outbox_batch(claims)`` tasks (of up to
``OUTBOX_BATCH_SIZE``) and ``send_outbox_message(id, token)`` for the messages sent one at a
time; nothing waits in Redis with an ETA, and a task Redis loses is recovered by the lease.
"""

from __future__ import annotations

import json
import logging
import traceback
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models.expressions import RawSQL
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
RETURNING message.id, message.claim_token, due.was, message.channel
"""


class Claim(tuple[int, uuid.UUID]):
    """A claimed message: the pair ``(message_id, claim_token)`` that ``outbox_send`` takes,
    which also knows the message's ``channel`` (the dispatcher batches by it)."""

    channel: str

    def __new__(cls, message_id: int, claim_token: uuid.UUID, channel: str) -> Claim:
        claim = super().__new__(cls, (message_id, claim_token))
        claim.channel = channel
        return claim


def outbox_claim_due(*, limit: int, lease: timedelta, now: datetime | None = None) -> list[Claim]:
    """Claim up to ``limit`` due messages for ``lease``: each becomes "sending" with a new
    claim token. Returns ``(id, claim_token)`` pairs (``Claim``), for ``outbox_send``. One
    statement."""
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
    taken_over = sum(1 for _id, _token, was, _channel in rows if was == OutboxStatus.SENDING)
    if taken_over:
        logger.warning(
            "took over %d outbox message(s) whose lease ran out (a worker stopped mid-send?)",
            taken_over,
        )
    return [
        Claim(message_id, _as_uuid(token), channel) for message_id, token, _was, channel in rows
    ]


# --- Sending ------------------------------------------------------------------------------


def outbox_send(
    message_id: int, claim_token: uuid.UUID | str, *, now: datetime | None = None
) -> str:
    """Send the message claimed with ``claim_token``, if it still is; returns its status
    afterwards ("missing" if the row is gone). A batch of one (``outbox_send_batch``)."""
    return outbox_send_batch([(message_id, claim_token)], now=now)[int(message_id)]


def outbox_send_batch(
    claims: Sequence[tuple[int, uuid.UUID | str]], *, now: datetime | None = None
) -> dict[int, str]:
    """Send the messages claimed as ``(message_id, claim_token)`` whose claims still hold,
    in one transaction; returns each one's status afterwards ("missing" for a row that is
    gone; the status someone else left for a claim that no longer holds).

    Under the rows' locks (one ``SELECT … FOR UPDATE``): ``rules.decide`` says send, defer
    (back to waiting until then) or skip (with the reason), with the consent of the batch's
    patients read in one query; a message to send goes to its recipient as they are now
    (none: skipped as "no_address"), written by its kind and sent through its channel with
    its idempotency key. Then every outcome is recorded in one ``UPDATE`` and committed. A
    failed send is retried later with backoff, up to ``OUTBOX_MAX_ATTEMPTS`` (a refusal
    that cannot change fails at once); once the provider does not answer at all, the
    messages of the batch not yet tried go back to waiting too (``_released``). See the
    module docstring for why the locks are held across the provider calls, and why a batch
    is only for a provider that honours idempotency keys."""
    tokens = {int(message_id): _as_uuid(token) for message_id, token in claims}
    if not tokens:
        return {}
    with transaction.atomic():
        messages = list(
            OutboxMessage.objects.select_for_update(of=("self",))
            .select_related("patient__preferred_location", "location", "appointment")
            # The tokens are unique, so this is "each row's own token": a claim that was
            # taken over (or a message sent, skipped or gone since) is not locked at all. As
            # arrays: one parameter each, whatever the batch's size.
            .filter(
                pk__in=RawSQL("SELECT unnest(%s::bigint[])", [list(tokens)]),
                claim_token__in=RawSQL("SELECT unnest(%s::uuid[])", [list(tokens.values())]),
                status=OutboxStatus.SENDING,
            )
            # One order for every batch: two batches never wait on each other in a cycle.
            .order_by("pk")
        )
        messages = [message for message in messages if message.claim_token == tokens[message.pk]]
        now = now or timezone.now()
        outcomes = _prepared(messages, now)
        _send_prepared(messages, outcomes, now)
        _record(messages)
    for message, outcome in zip(messages, outcomes, strict=True):
        if isinstance(outcome, _Ready) and message.status == OutboxStatus.SENT:
            logger.info(
                "sent outbox message %s (%s by %s)",
                message.public_id,
                message.kind,
                message.channel,
            )
    statuses = {message.pk: message.status for message in messages}
    others = set(tokens) - set(statuses)
    if others:
        # Sent, skipped or re-claimed by someone else since these claims were made, or gone.
        found = dict(OutboxMessage.objects.filter(pk__in=others).values_list("pk", "status"))
        statuses |= {message_id: found.get(message_id, "missing") for message_id in others}
    return statuses


@dataclass(frozen=True)
class _Ready:
    """A message to send: to whom, and what."""

    to: str
    rendered: Rendered


_Outcome = NotWanted | rules.Decision | _Ready | Exception


def _prepared(messages: list[OutboxMessage], now: datetime) -> list[_Outcome]:
    """For each message, why not to send it (skip), when to try again and why (a deferral),
    what to send to whom, or the error its rules or its template raised.

    All in one savepoint, with the consent of the batch's patients and the texts counting
    towards the caps of those with capped texts read at once (``rules.consenting``,
    ``rules.counted_texts``); if anything
    raises, that is rolled back and each message is judged again as a batch of one would be,
    in a savepoint of its own, so a database error in one message's rules or template spoils
    only that message's attempt (and leaves the rows writable, to record it)."""
    try:
        with transaction.atomic():
            consenting = rules.consenting(messages)
            counted = rules.counted_texts(messages, now)
            return [
                _prepare(message, now, consenting.get(message.channel, set()), counted)
                for message in messages
            ]
    except Exception:  # noqa: S110 (judged again below, one by one, to find which failed)
        pass
    outcomes: list[_Outcome] = []
    for message in messages:
        try:
            with transaction.atomic():
                outcomes.append(_prepare(message, now, None, None))
        except Exception as exc:
            outcomes.append(exc)
    return outcomes


def _prepare(
    message: OutboxMessage,
    now: datetime,
    consenting: set[int] | None,
    counted: dict[int, list[rules.CountedText]] | None,
) -> NotWanted | rules.Decision | _Ready:
    decision = rules.decide(message, now, consenting=consenting, counted=counted)
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
    return _Ready(to=to, rendered=kind.render(message))


def _send_prepared(messages: list[OutboxMessage], outcomes: list[_Outcome], now: datetime) -> None:
    """Send the messages that are ready, one after another, and set every message's outcome
    on it (to be recorded). After a provider that does not answer, the rest are released."""
    sms_backend: channels.SmsBackend | None = None
    no_answer: channels.ChannelError | None = None
    released = 0
    for message, outcome in zip(messages, outcomes, strict=True):
        if isinstance(outcome, NotWanted):
            _skip(message, outcome)
        elif isinstance(outcome, rules.Decision):
            _defer(message, outcome)
        elif isinstance(outcome, Exception):
            _attempt_failed(message, outcome, now)
        elif no_answer is not None:
            _released(message, now)
            released += 1
        else:
            try:
                if message.channel == OutboxChannel.EMAIL:
                    reference = channels.send_email(message, outcome.rendered, to=outcome.to)
                else:
                    sms_backend = sms_backend or channels.sms_backend()
                    reference = channels.send_sms(
                        message, outcome.rendered, to=outcome.to, backend=sms_backend
                    )
            except Exception as exc:
                _attempt_failed(message, exc, now)
                if isinstance(exc, channels.ChannelError) and exc.no_answer:
                    no_answer = exc
                continue
            message.status = OutboxStatus.SENT
            message.recipient = outcome.to
            message.subject = outcome.rendered.subject[:200]
            message.body = outcome.rendered.body
            message.provider_reference = reference[:100]
            message.sent_at = timezone.now()
            _end_claim(message)
    if no_answer is not None:
        logger.warning(
            "the provider did not answer (%s): %d other outbox message(s) of the batch wait "
            "until the next try",
            no_answer,
            released,
        )


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed send: ``OUTBOX_RETRY_BASE_SECONDS``,
    doubling each time, at most ``OUTBOX_RETRY_MAX_SECONDS``."""
    base, most = settings.OUTBOX_RETRY_BASE_SECONDS, settings.OUTBOX_RETRY_MAX_SECONDS
    return timedelta(seconds=min(base * 2 ** min(attempts - 1, 30), most))


def _attempt_failed(message: OutboxMessage, exc: Exception, now: datetime) -> None:
    message.attempts += 1
    message.last_error = error_text(exc)
    permanent = isinstance(exc, channels.ChannelError) and exc.permanent
    if permanent or message.attempts >= settings.OUTBOX_MAX_ATTEMPTS:
        message.status = OutboxStatus.FAILED
    else:
        message.status = OutboxStatus.PENDING
        message.not_before = now + retry_delay(message.attempts)
    _end_claim(message)
    logger.warning(
        "outbox message %s (%s by %s): attempt %d failed, now %s: %s",
        message.public_id,
        message.kind,
        message.channel,
        message.attempts,
        message.status,
        message.last_error,
    )


def _released(message: OutboxMessage, now: datetime) -> None:
    """Not tried, because the provider did not answer for a message before it in the batch:
    back to waiting as long as after a first failure, with no attempt counted."""
    message.status = OutboxStatus.PENDING
    message.not_before = now + retry_delay(1)
    _end_claim(message)


def error_text(exc: Exception) -> str:
    """What went wrong, fit to store and log: a channel's own sentence, or for anything else
    only the exception's class and where it was raised (its text may quote the patient)."""
    if isinstance(exc, channels.ChannelError):
        return f"{type(exc).__name__}: {exc}"[:500]
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" in {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""
    return f"{type(exc).__name__}{where} (its text is not kept: it may hold patient data)."


def _skip(message: OutboxMessage, why: NotWanted) -> None:
    message.status = OutboxStatus.SKIPPED
    message.skip_reason = why.reason
    message.skip_detail = why.detail[:300]
    _end_claim(message)
    logger.info("skipped outbox message %s (%s)", message.public_id, why.reason)


def _defer(message: OutboxMessage, decision: rules.Decision) -> None:
    """Back to waiting until the decision's time, noting why in ``context["held"]`` (the
    time it was due before, for the chart)."""
    context = dict(message.context or {})
    first_due = (context.get("held") or {}).get("due") or _iso(message.not_before)
    context["held"] = {"why": decision.held, "due": first_due}
    message.context = context
    message.status = OutboxStatus.PENDING
    message.not_before = decision.defer_until or message.not_before
    _end_claim(message)


def _no_address(message: OutboxMessage) -> NotWanted:
    if message.patient_id is None:
        return NotWanted("no_address", "The message names no recipient.")
    what = "email address" if message.channel == OutboxChannel.EMAIL else "mobile number"
    return NotWanted("no_address", f"The patient has no {what} on record.")


def _end_claim(message: OutboxMessage) -> None:
    message.claim_token = None
    message.claimed_until = None


# What sending may change on a row: each message's outcome is written back in one statement.
_RECORDED = (
    "status",
    "claim_token",
    "claimed_until",
    "recipient",
    "subject",
    "body",
    "provider_reference",
    "sent_at",
    "skip_reason",
    "skip_detail",
    "not_before",
    "context",
    "attempts",
    "last_error",
)


_RECORD_SQL = """
UPDATE {table} AS message
SET {assignments}
FROM unnest({arrays}) AS outcome ({columns})
WHERE message.{pk} = outcome.{pk}
"""


def _record(messages: list[OutboxMessage]) -> None:
    """Write what became of each message: one ``UPDATE`` for the batch, from one array per
    column (``unnest``: the rows of ``VALUES``, in a statement whose text is the same for
    every batch, so the driver parses it once). Character columns go as text, so a value
    too long for its column is an error here as it would be in ``save``, not cut short."""
    if not messages:
        return
    meta = OutboxMessage._meta
    fields = [meta.pk, *(meta.get_field(name) for name in _RECORDED)]
    quote = connection.ops.quote_name
    columns = [quote(field.column) for field in fields]
    sql = _RECORD_SQL.format(
        table=quote(meta.db_table),
        assignments=", ".join(
            f"{column} = outcome.{column}{'::jsonb' if _is_json(field) else ''}"
            for column, field in zip(columns[1:], fields[1:], strict=True)
        ),
        arrays=", ".join(f"%s::{_array_type(field)}" for field in fields),
        columns=", ".join(columns),
        pk=columns[0],
    )
    # The values as the model holds them, which psycopg adapts as the fields would (text,
    # UUIDs, aware datetimes, integers); JSON as its text.
    params = [
        [
            json.dumps(getattr(message, field.attname), cls=field.encoder)
            if _is_json(field)
            else getattr(message, field.attname)
            for message in messages
        ]
        for field in fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _is_json(field: Any) -> bool:
    return field.get_internal_type() == "JSONField"


def _array_type(field: Any) -> str:
    if field.get_internal_type() in ("CharField", "TextField", "JSONField"):
        return "text[]"
    return f"{field.db_type(connection)}[]"


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
