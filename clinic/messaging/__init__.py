"""Messages to patients and staff: the outbox, its rules, its channels.

How a message travels:

1. A service that changes something (books an appointment, creates an intake link, records
   a PHQ-9) calls ``outbox.outbox_enqueue`` in its own transaction: one ``OutboxMessage``
   row, named by an idempotency key, due at ``not_before``. Nothing is sent yet; if the
   transaction rolls back, there is no message.
2. Every minute beat runs the task named "clinic.tasks.dispatch_outbox" (in
   ``dispatch``), which claims due rows with ``SELECT … FOR UPDATE SKIP LOCKED`` and a
   lease, and hands them to the workers: texts through a provider that honours idempotency
   keys in batches (one task and one transaction for up to ``OUTBOX_BATCH_SIZE``), any
   other message on its own (``outbox``'s docstring says why). (A text due in quiet hours
   was already planned out of them when it was queued: ``rules``.)
3. The worker asks ``rules.decide`` whether the message is still wanted *now* (the
   appointment not cancelled or moved, consent still given, not in quiet hours, and for
   nudges under the caps: transactional kinds, those the patient needs, are never capped),
   renders it with its kind (``registry``), sends it through its channel
   (``channels``) with the idempotency key, and records the result; failures are retried
   with backoff, a claim left by a dead worker is taken over when its lease runs out.

Each app says which messages it has in ``<app>/messages.py`` (``registry.register``).
"""
