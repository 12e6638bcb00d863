"""The intake questionnaire: its questions, how answers are checked, shown and compared,
and how they become the facts the screening rules look at.

One Django form per section (``SECTIONS``). The same forms serve the staff page (all
sections on one page) and the patient's link (one section per step). A form made with
``draft=True`` accepts any question left unanswered, so a patient can save progress;
without it every question that the screening rules rely on needs an answer, so the
rules see "not recorded" only when nobody recorded it.

Stored answers are one flat JSON object: field name -> value (choice values as text,
numbers as int, doses as decimal text, dates as ISO text, ``None`` or ``""`` when not
answered), plus ``schema_version``. Old versions are never rewritten: code reading
answers must cope with keys that are missing or that it does not know.

The modules: questions (the section forms and their choices), answers (checking a whole
answer set, showing it and comparing two; a patient's saved progress) and facts (turning
answers and the record into what the screening rules look at).
"""
