"""Online consultation booking for the public, under /book/ (``scheduling.views.booking``).

- What is offered: active locations, and the free times of the consultation type (the one
  appointment type ``bookable_online``) for the next ``BOOKING_HORIZON_DAYS`` days, a week at
  a time, on the location's own clock (``booking_week``).
- Who is booking: ``booking_submit`` matches the booker to a patient already on file (the
  same date of birth and last name, and the same email or mobile) or creates one, and never
  says which: the pages and the email are the same either way. A known patient's record is
  only filled in where it is blank, never overwritten by what an anonymous form says.
- Contact consent: each box ticked is recorded with the exact wording shown
  (``consent_wording``) when it is not already given; a box left unticked is recorded as
  "not given" only the first time the patient is asked, so a returning patient's earlier
  consent is not withdrawn by a form that cannot show it to them (withdrawing is explicit:
  STOP, or staff).
- Abuse and accidents: a form nonce makes a double submit return the first booking
  (``booking_replayed``), ``booking_rate_limit`` counts attempts per IP and per contact in
  Django's cache, and the view answers a filled-in honeypot as if it had booked.
- Manage links: a signed token naming the appointment (``manage_token``), usable until the
  appointment is over, to see it, download the .ics, and cancel or move it while
  ``appointment_patient_may_change`` allows.
- Messages: outbox rows in the booking's transaction (``scheduling.messages``). The booking
  queues the confirmation (with the manage link and the .ics) on the channels the booker
  ticked and the patient agreed to; ``appointment_book`` queues the reminders, and a cancel
  or move through the manage link queues its message in ``appointment_cancel`` or
  ``appointment_reschedule``. A message goes to the address on the patient's record when it
  is sent, so an anonymous form cannot send a known patient's messages elsewhere. Content
  is minimal (DOMAIN.md, "Messages to patients"): the clinic, the time with its zone, the
  address, how to reach us.
- The calendar file (``appointment_ics``): one event on the location's clock with the
  VTIMEZONE for its zone (``scheduling.ics``), so calendars show the right local time
  whatever their own zone and whatever happens to the clocks.

The modules: ``offer`` (locations, free times, which times may be asked for), ``summary``
(how a booking and opening hours are shown), ``booker`` (who is booking, contact details,
consent), ``rate_limits``, ``submit`` (``booking_submit``), ``manage`` (manage links, and
cancelling or moving through one). The calendar file is ``scheduling.calendar_files``'s.
"""
