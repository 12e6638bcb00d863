"""Appointment writes: book, cancel, reschedule, change status, undo; and the waitlist.

Each service checks everything first and changes nothing when it refuses:

- ``ValidationError`` keyed by field ("starts_at", "patient", "chair", "reason", …) when the
  request itself is wrong (a time in the past or outside opening hours or shifts, an
  infusion without approved screening or consent, a cancellation without a reason, a status
  change the appointment cannot make); each message says what was wrong and what to do.
- ``SlotTaken`` when the time is simply not free (or was taken a moment ago, or the same
  booking was already made), with the nearest free alternatives.

Double bookings are impossible, not unlikely:

- The database refuses them. Two GiST exclusion constraints (``scheduling.models``) keep a
  chair and a patient from holding two overlapping active appointments; the write runs in a
  savepoint, and losing that race becomes ``SlotTaken``, never a 500.
- What the database cannot see (a physician holds one consultation at a time, a nurse looks
  after at most ``INFUSIONS_PER_NURSE`` infusions) is checked by
  ``scheduling.availability.slot_is_free`` while holding transaction-scoped advisory locks
  for the patient and for the booking's time at the location (``locks``), so two bookings
  of overlapping times at one location (or of one patient) are checked and written one
  after the other, and bookings of other times go ahead at once.

Every change is in the audit log; patients appear there by ``public_id`` only, and
summaries name fields, never their values (a cancel reason is not copied there).

Messages to the patient are outbox rows written in the same transaction
(``scheduling.message_queue``): booking queues the reminders; moving queues "your appointment has
moved" and the new time's reminders; cancelling an appointment still to come queues "your
appointment is cancelled"; a freed time offered to the waitlist queues the offer. A refusal
or a rollback leaves no message.

The modules:

- ``book_and_reschedule``: ``appointment_book``, ``appointment_reschedule``;
- ``status_changes``: ``appointment_cancel``, ``appointment_set_status``,
  ``appointment_follow_session``;
- ``undo``: ``appointment_undo`` and what the board needs to offer it;
- ``waitlist``: ``waitlist_add``, ``waitlist_remove``, ``waitlist_matches``, offers;
- ``online_changes``: until when the patient may change an appointment online;
- ``status_rules``: the status graph, the clock's guards, who may move an appointment;
- ``booking_rules``: whether a booking may be asked for at all;
- ``infusion_gap``: a patient's infusions at least ``COURSE_MIN_GAP_HOURS`` apart;
- ``free_time``: whether the time is free, ``SlotTaken``, the savepointed write;
- ``locks``: advisory and row locks;
- ``checks``: who may act, and the pieces refusals are written with.
"""
