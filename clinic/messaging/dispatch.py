"""Handing the outbox's due messages to the workers: ``outbox_dispatch`` and the two Celery
tasks around it.

Beat runs ``dispatch_outbox`` every minute; it claims the due rows (``outbox.outbox_claim_due``)
and queues them: the texts of a provider that honours idempotency keys in batches of up to
``OUTBOX_BATCH_SIZE``, one ``send_outbox_batch`` each (``outbox.outbox_send_batch``: one
transaction, a handful of statements and one task for the whole batch), every other message
on its own, one ``send_outbox_message`` each (``outbox.outbox_send``). Why: the module
docstring of ``outbox``. The tasks keep the names beat and queued messages know them by
(``clinic.tasks.…``); settings' ``CELERY_IMPORTS`` makes the worker load this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from functools import partial

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from clinic.messaging.channels import honours_idempotency_keys
from clinic.messaging.outbox import Claim, outbox_claim_due, outbox_send, outbox_send_batch
from clinic.models import OutboxMessage, OutboxStatus

# pg_advisory_xact_lock(bigint) key for "claiming from the outbox" (the single-key space,
# apart from the (int, int) keys of scheduling's booking locks).
_DISPATCH_LOCK = 7_308_001


def outbox_dispatch(*, limit: int | None = None) -> int:
    """Claim due messages and queue the tasks that send them (in batches where the provider
    honours idempotency keys, else one task each); returns how many. Run by beat every
    minute.

    At most ``limit`` (default ``OUTBOX_DISPATCH_LIMIT``) messages are claimed and not yet
    sent at any time, across every dispatcher: a run claims only the room left. A claim's
    lease has to cover its wait in the queue, so claiming faster than the workers send would
    let leases run out on messages still waiting for a worker, to be claimed and queued again
    (harmless, as the old task then finds its token changed, but wasted work). If queueing
    fails (the broker is down) the claims stay until their lease runs out and a later run
    claims them again.

    Counting the room and claiming it happen under a transaction-level advisory lock, so two
    dispatchers at the same moment (two beats, a beat and a manual run) take turns: the
    second counts the first's claims, committed, instead of both counting none and each
    claiming the whole limit. The lock is held only for that one count and one claim (the
    claim still skips rows a sender holds); the tasks are queued once it is committed."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_DISPATCH_LOCK])
        now = timezone.now()
        in_flight = OutboxMessage.objects.filter(
            status=OutboxStatus.SENDING, claimed_until__gte=now
        ).count()
        room = (limit or settings.OUTBOX_DISPATCH_LIMIT) - in_flight
        if room <= 0:
            return 0
        claims = outbox_claim_due(
            limit=room, lease=timedelta(seconds=settings.OUTBOX_LEASE_SECONDS), now=now
        )
        # Queued after the claim is committed, so a task never finds its rows unclaimed.
        for batch in _batches(claims):
            if len(batch) == 1 and not honours_idempotency_keys(batch[0].channel):
                message_id, token = batch[0]
                transaction.on_commit(partial(send_outbox_message.delay, message_id, str(token)))
            else:
                pairs = [[message_id, str(token)] for message_id, token in batch]
                transaction.on_commit(partial(send_outbox_batch.delay, pairs))
    return len(claims)


def _batches(claims: list[Claim]) -> Iterator[list[Claim]]:
    """The claims in the batches they are sent in: of a channel whose provider honours
    idempotency keys, in batches of at most ``OUTBOX_BATCH_SIZE``, as even as can be (so
    workers share the work); of any other, one at a time."""
    by_channel: dict[str, list[Claim]] = {}
    for claim in claims:
        by_channel.setdefault(claim.channel, []).append(claim)
    for channel, channel_claims in by_channel.items():
        if not honours_idempotency_keys(channel):
            yield from ([claim] for claim in channel_claims)
            continue
        count = -(-len(channel_claims) // settings.OUTBOX_BATCH_SIZE)  # ceiling
        size = -(-len(channel_claims) // count)
        for start in range(0, len(channel_claims), size):
            yield channel_claims[start : start + size]


@shared_task(name="clinic.tasks.dispatch_outbox")
def dispatch_outbox() -> int:
    """Run by beat every minute: claim the due outbox messages, queue their sends."""
    return outbox_dispatch()


# acks_late: the task is acknowledged only when it has run, so a worker that dies mid-send
# does not lose it; reject_on_worker_lost: a pool process killed mid-task puts it back in
# the queue. Either way it runs again with the same claim tokens, and outbox_send_batch sends
# only while a token is still its row's. A task Redis loses anyway is recovered by the lease.
@shared_task(name="clinic.tasks.send_outbox_message", acks_late=True, reject_on_worker_lost=True)
def send_outbox_message(message_id: int, claim_token: str) -> str:
    return outbox_send(message_id, claim_token)


@shared_task(name="clinic.tasks.send_outbox_batch", acks_late=True, reject_on_worker_lost=True)
def send_outbox_batch(claims: list[list]) -> int:
    """Send the claimed ``[message_id, claim_token]`` pairs as one batch; returns how many
    were sent."""
    statuses = outbox_send_batch([(message_id, token) for message_id, token in claims])
    return sum(1 for status in statuses.values() if status == OutboxStatus.SENT)
