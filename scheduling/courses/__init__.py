"""Treatment courses: planning an induction series, booking it whole, boosters, and the end.

A course is an induction series of ``planned_infusions`` infusions (4 to 10, six by default),
all within ``window_days`` (14 to 28) of the first, at least ``min_gap_hours`` (24 or more)
apart (DOMAIN.md, "The patient's path" 5 and 6), then single booster infusions as needed.

- ``course_plan`` proposes concrete times. It reads availability once for the whole search
  (``scheduling.availability.free_slots``, which already knows opening hours, shifts, chairs,
  nurse capacity and the patient's other appointments) and then only arranges those slots:
  the earliest start, spread at about three a week, the same time of day where it can, and
  on the patient's preferred days and times first. It never silently plans fewer: a plan
  that falls short says so, and one that had to leave the preferences says which infusions.
- ``course_create`` books the whole series through ``appointment_book``
  (``scheduling.services.book_and_reschedule``) in one transaction: all or nothing, each
  refusal naming its infusion, with alternatives.
- ``course_book_booster``, ``course_complete`` and ``course_discontinue`` move the course on:
  planned → induction (booked) → maintenance (first booster) → completed, or discontinued
  with a reason at any point (the appointments still to come are cancelled).

Booking rules themselves (who may be booked when) live in ``scheduling.services`` and
``scheduling.availability`` only; this package never re-implements them.

The modules: ``reads`` (the courses a user may see, progress, why none may be planned),
``planner`` (``course_plan``), ``series_booking`` (``course_create``), ``boosters_and_end``
(boosters, complete, discontinue), ``limits`` (DOMAIN.md's ranges and the COURSE_* defaults),
``wording`` (days and times in plans and refusals).
"""
