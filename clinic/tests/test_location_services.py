"""The location services: what they save, what they refuse, and what they audit."""

from __future__ import annotations

from datetime import date, time

import pytest
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from clinic.models import AuditEvent, Chair, Closure, Location, OpeningHours
from clinic.services import (
    chair_create,
    chair_set_active,
    chair_update,
    closure_add,
    closure_remove,
    location_create,
    location_set_active,
    location_set_opening_hours,
    location_update,
)

MONDAY, TUESDAY, SATURDAY, SUNDAY = 0, 1, 5, 6


def make_location(actor=None, **overrides) -> Location:
    details = {
        "name": "Riverside",
        "address_line1": "1 River Road",
        "city": "Austin",
        "phone": "+1 555 010 0100",
        "time_zone": "America/Chicago",
    }
    return location_create(actor=actor, **(details | overrides))


def audit_summaries(target) -> list[str]:
    object_id = str(getattr(target, "public_id", None) or target.pk)
    return list(
        AuditEvent.objects.filter(object_id=object_id)
        .order_by("occurred_at", "id")
        .values_list("summary", flat=True)
    )


# --- Locations ---------------------------------------------------------------------------


def test_it_creates_a_location_and_records_who_did_it(alice):
    location = make_location(alice, region="TX", country="us")

    location.refresh_from_db()
    assert location.name == "Riverside"
    assert location.country == "US"
    assert location.is_active
    event = AuditEvent.objects.get(object_id=str(location.public_id))
    assert event.actor == alice
    assert event.action == AuditEvent.Action.CREATE
    assert event.summary == (
        "created with address_line1, city, country, name, phone, region, time_zone"
    )


def test_it_rejects_an_unknown_time_zone_and_saves_nothing(alice):
    with pytest.raises(ValidationError) as caught:
        make_location(alice, time_zone="Mars/Olympus_Mons")

    assert "Mars/Olympus_Mons is not a known time zone" in caught.value.message_dict["time_zone"][0]
    assert not Location.objects.exists()
    assert not AuditEvent.objects.exists()


def test_it_rejects_a_name_already_in_use_whatever_the_case(alice):
    make_location(alice)

    with pytest.raises(ValidationError) as caught:
        make_location(alice, name="RIVERSIDE")

    assert caught.value.message_dict["name"] == [
        "There is already a location called RIVERSIDE. Choose a different name."
    ]
    assert Location.objects.count() == 1


def test_it_rejects_missing_details_and_a_bad_country_code(alice):
    with pytest.raises(ValidationError) as caught:
        make_location(alice, city=" ", country="USA")

    assert set(caught.value.message_dict) == {"city", "country"}
    assert not Location.objects.exists()


def test_it_updates_the_changed_fields_and_names_them_in_the_audit_log(alice):
    location = make_location(alice)

    updated = location_update(
        actor=alice, location=location, name="Riverside", phone="+1 555 010 0199", city="Dallas"
    )

    location.refresh_from_db()
    assert (location.phone, location.city) == ("+1 555 010 0199", "Dallas")
    assert updated.city == "Dallas"
    assert audit_summaries(location)[-1] == "changed phone, city"


def test_it_leaves_the_location_as_it_was_when_an_update_is_invalid(alice):
    location = make_location(alice)
    make_location(alice, name="Hilltop")

    with pytest.raises(ValidationError) as caught:
        location_update(actor=alice, location=location, name="Hilltop", time_zone="Nowhere")

    assert set(caught.value.message_dict) == {"name", "time_zone"}
    assert location.name == "Riverside"
    location.refresh_from_db()
    assert (location.name, location.time_zone) == ("Riverside", "America/Chicago")
    assert len(audit_summaries(location)) == 1


def test_it_records_nothing_when_an_update_changes_nothing(alice):
    location = make_location(alice)

    location_update(actor=alice, location=location, name="Riverside", city="Austin")

    assert len(audit_summaries(location)) == 1


def test_it_refuses_fields_a_location_does_not_have(alice):
    location = make_location(alice)

    with pytest.raises(TypeError):
        location_update(actor=alice, location=location, is_active=False)  # type: ignore[call-arg]


def test_it_deactivates_and_reactivates_a_location(alice):
    location = make_location(alice)

    location_set_active(actor=alice, location=location, is_active=False)
    location.refresh_from_db()
    assert not location.is_active

    location_set_active(actor=alice, location=location, is_active=True)
    location.refresh_from_db()
    assert location.is_active
    assert audit_summaries(location)[1:] == [
        "deactivated: changed is_active",
        "reactivated: changed is_active",
    ]


# --- Opening hours ------------------------------------------------------------------------


def test_it_sets_opening_hours_and_names_the_changed_days(alice):
    location = make_location(alice)
    location_set_opening_hours(
        actor=alice,
        location=location,
        hours={MONDAY: (time(8), time(18)), SATURDAY: (time(9), time(13))},
    )

    week = location_set_opening_hours(
        actor=alice,
        location=location,
        hours={
            MONDAY: (time(8), time(18)),
            TUESDAY: (time(7, 30), time(16)),
            SATURDAY: None,
            SUNDAY: None,
        },
    )

    assert [(row.weekday, row.opens_at, row.closes_at) for row in week] == [
        (MONDAY, time(8), time(18)),
        (TUESDAY, time(7, 30), time(16)),
    ]
    assert list(location.opening_hours.values_list("weekday", flat=True)) == [MONDAY, TUESDAY]
    assert audit_summaries(location)[1:] == [
        "changed opening hours: monday, saturday",
        "changed opening hours: tuesday, saturday",
    ]


def test_it_rejects_a_day_that_closes_before_it_opens_and_changes_no_day(alice):
    location = make_location(alice)

    with pytest.raises(ValidationError) as caught:
        location_set_opening_hours(
            actor=alice,
            location=location,
            hours={MONDAY: (time(8), time(18)), TUESDAY: (time(17), time(9))},
        )

    assert caught.value.message_dict == {
        "tuesday": [
            "On Tuesday the closing time (09:00) is not after the opening time (17:00). "
            "Enter a closing time later than the opening time, or mark Tuesday as closed."
        ]
    }
    assert not OpeningHours.objects.exists()
    assert len(audit_summaries(location)) == 1


# --- Closures -----------------------------------------------------------------------------


def test_it_adds_a_closure_and_records_it(alice):
    location = make_location(alice)

    closure = closure_add(
        actor=alice,
        location=location,
        starts_on=date(2031, 12, 24),
        ends_on=date(2031, 12, 26),
        reason=" Holidays ",
    )

    assert closure.reason == "Holidays"
    assert list(location.closures.all()) == [closure]
    assert audit_summaries(closure) == ["created with starts_on, ends_on, reason"]


def test_it_rejects_a_closure_that_ends_before_it_starts(alice):
    location = make_location(alice)

    with pytest.raises(ValidationError) as caught:
        closure_add(
            actor=alice,
            location=location,
            starts_on=date(2031, 12, 26),
            ends_on=date(2031, 12, 24),
            reason="Holidays",
        )

    assert caught.value.message_dict["ends_on"] == [
        "The closure ends on Dec 24, 2031, before it starts on Dec 26, 2031. "
        "Enter an end date on or after the start date."
    ]
    assert not Closure.objects.exists()


def test_it_rejects_a_closure_overlapping_another(alice):
    location = make_location(alice)
    closure_add(
        actor=alice,
        location=location,
        starts_on=date(2031, 12, 24),
        ends_on=date(2031, 12, 26),
        reason="Holidays",
    )

    with pytest.raises(ValidationError) as caught:
        closure_add(
            actor=alice,
            location=location,
            starts_on=date(2031, 12, 26),
            ends_on=date(2031, 12, 26),
            reason="Boxing day",
        )

    assert "Riverside is already closed then" in caught.value.message_dict["starts_on"][0]
    assert location.closures.count() == 1


def test_it_rejects_a_closure_without_a_reason(alice):
    location = make_location(alice)

    with pytest.raises(ValidationError) as caught:
        closure_add(
            actor=alice,
            location=location,
            starts_on=date(2031, 12, 24),
            ends_on=date(2031, 12, 24),
            reason="  ",
        )

    assert "reason" in caught.value.message_dict
    assert not Closure.objects.exists()


def test_it_removes_a_closure_and_records_it(alice):
    location = make_location(alice)
    closure = closure_add(
        actor=alice,
        location=location,
        starts_on=date(2031, 12, 24),
        ends_on=date(2031, 12, 24),
        reason="Holidays",
    )
    closure_id = closure.pk

    closure_remove(actor=alice, closure=closure)

    assert not Closure.objects.exists()
    event = AuditEvent.objects.get(object_id=str(closure_id), action=AuditEvent.Action.DELETE)
    assert (event.actor, event.summary) == (alice, "removed")


# --- Chairs -------------------------------------------------------------------------------


def test_it_adds_a_chair_and_records_it(alice):
    location = make_location(alice)

    chair = chair_create(actor=alice, location=location, name=" Chair 1 ")

    assert chair.name == "Chair 1"
    assert chair.is_active
    assert list(location.chairs.all()) == [chair]
    assert audit_summaries(chair) == ["created with name, location"]


def test_it_rejects_a_chair_name_the_location_already_has_whatever_the_case(alice):
    location = make_location(alice)
    chair_create(actor=alice, location=location, name="Chair 1")

    with pytest.raises(ValidationError) as caught:
        chair_create(actor=alice, location=location, name="chair 1")

    assert caught.value.message_dict["name"] == [
        "Riverside already has a chair called Chair 1. Choose a different name."
    ]
    assert location.chairs.count() == 1


def test_it_points_to_the_deactivated_chair_that_has_the_name(alice):
    location = make_location(alice)
    chair = chair_create(actor=alice, location=location, name="Chair 1")
    chair_set_active(actor=alice, chair=chair, is_active=False)

    with pytest.raises(ValidationError) as caught:
        chair_create(actor=alice, location=location, name="Chair 1")

    assert caught.value.message_dict["name"] == [
        "Riverside already has a chair called Chair 1 (deactivated). Choose a different name, "
        "or reactivate that chair."
    ]


def test_it_allows_the_same_chair_name_at_another_location(alice):
    chair_create(actor=alice, location=make_location(alice), name="Chair 1")

    chair = chair_create(actor=alice, location=make_location(alice, name="Hilltop"), name="Chair 1")

    assert chair.location.name == "Hilltop"


def test_it_rejects_a_blank_chair_name(alice):
    location = make_location(alice)

    with pytest.raises(ValidationError) as caught:
        chair_create(actor=alice, location=location, name="   ")

    assert "name" in caught.value.message_dict
    assert not Chair.objects.exists()


def test_it_refuses_new_chairs_at_a_deactivated_location(alice):
    location = make_location(alice)
    location_set_active(actor=alice, location=location, is_active=False)

    with pytest.raises(ValidationError) as caught:
        chair_create(actor=alice, location=location, name="Chair 1")

    assert "Reactivate the location" in caught.value.message_dict[NON_FIELD_ERRORS][0]
    assert not Chair.objects.exists()


def test_it_renames_a_chair_and_records_it(alice):
    location = make_location(alice)
    chair = chair_create(actor=alice, location=location, name="Chair 1")

    renamed = chair_update(actor=alice, chair=chair, name="Window bay")

    chair.refresh_from_db()
    assert chair.name == renamed.name == "Window bay"
    assert audit_summaries(chair)[-1] == "changed name"


def test_it_refuses_to_rename_a_chair_to_a_name_in_use(alice):
    location = make_location(alice)
    chair_create(actor=alice, location=location, name="Chair 1")
    chair = chair_create(actor=alice, location=location, name="Chair 2")

    with pytest.raises(ValidationError):
        chair_update(actor=alice, chair=chair, name="CHAIR 1")

    assert chair.name == "Chair 2"
    chair.refresh_from_db()
    assert chair.name == "Chair 2"
    assert len(audit_summaries(chair)) == 1


def test_it_deactivates_and_reactivates_a_chair_without_deleting_it(alice):
    location = make_location(alice)
    chair = chair_create(actor=alice, location=location, name="Chair 1")

    chair_set_active(actor=alice, chair=chair, is_active=False)
    chair.refresh_from_db()
    assert not chair.is_active

    chair_set_active(actor=alice, chair=chair, is_active=True)
    chair.refresh_from_db()
    assert chair.is_active
    assert audit_summaries(chair)[1:] == [
        "deactivated: changed is_active",
        "reactivated: changed is_active",
    ]


def test_it_refuses_to_reactivate_a_chair_at_a_deactivated_location(alice):
    location = make_location(alice)
    chair = chair_create(actor=alice, location=location, name="Chair 1")
    chair_set_active(actor=alice, chair=chair, is_active=False)
    location_set_active(actor=alice, location=location, is_active=False)

    with pytest.raises(ValidationError):
        chair_set_active(actor=alice, chair=chair, is_active=True)

    chair.refresh_from_db()
    assert not chair.is_active
