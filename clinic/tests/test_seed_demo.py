from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.management.commands.seed_demo import DEMO_ACCOUNTS, upcoming_holiday
from clinic.messaging.outbox import outbox_claim_due, outbox_send
from clinic.models import (
    AuditEvent,
    Chair,
    Closure,
    Location,
    OpeningHours,
    OutboxMessage,
    OutboxStatus,
    User,
)
from clinic.roles import Role
from patients.models import Patient, SafetyAlert
from tests.second_factor import enrol_authenticator

pytestmark = pytest.mark.django_db


def row_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Location, OpeningHours, Closure, Chair, User, AuditEvent)
    }


def test_it_creates_two_locations_with_hours_a_closure_and_chairs(settings):
    settings.DEBUG = False
    call_command("seed_demo", verbosity=0)

    riverside = Location.objects.get(name="Riverside")
    mesa = Location.objects.get(name="Mesa")
    assert riverside.time_zone == "America/New_York"
    assert mesa.time_zone == "America/Denver"
    assert "555" in riverside.phone
    assert riverside.chairs.count() == 4
    assert mesa.chairs.count() == 3
    saturday = riverside.opening_hours.get(weekday=OpeningHours.Weekday.SATURDAY)
    assert (saturday.opens_at, saturday.closes_at) == (time(9), time(13))
    assert not mesa.opening_hours.filter(weekday=OpeningHours.Weekday.SATURDAY).exists()
    monday = mesa.opening_hours.get(weekday=OpeningHours.Weekday.MONDAY)
    assert (monday.opens_at, monday.closes_at) == (time(8), time(18))
    assert riverside.closures.count() == 1
    assert riverside.closures.get().starts_on >= timezone.localdate()


def test_it_changes_nothing_when_run_again(settings):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    before = row_counts()

    call_command("seed_demo", verbosity=0)

    assert row_counts() == before


def test_it_keeps_what_an_admin_changed_and_adds_what_is_missing(settings):
    settings.DEBUG = False
    call_command("seed_demo", verbosity=0)
    mesa = Location.objects.get(name="Mesa")
    mesa.opening_hours.filter(weekday=OpeningHours.Weekday.MONDAY).update(closes_at=time(16))
    mesa.chairs.get(name="Chair 3").delete()

    call_command("seed_demo", verbosity=0)

    monday = mesa.opening_hours.get(weekday=OpeningHours.Weekday.MONDAY)
    assert monday.closes_at == time(16)
    assert sorted(mesa.chairs.values_list("name", flat=True)) == ["Chair 1", "Chair 2", "Chair 3"]


def test_it_records_what_it_created_in_the_audit_log(settings):
    settings.DEBUG = False
    call_command("seed_demo", verbosity=0)

    location = Location.objects.get(name="Riverside")
    event = AuditEvent.objects.get(
        object_type="clinic.location",
        object_id=str(location.public_id),
        action=AuditEvent.Action.CREATE,
    )
    assert event.actor is None


def test_it_creates_no_demo_logins_when_debug_is_off(settings, capsys):
    settings.DEBUG = False

    call_command("seed_demo")

    assert not User.objects.filter(email__endswith="@demo.chairside.test").exists()
    assert "DEBUG is off" in capsys.readouterr().out


def test_it_creates_one_demo_login_per_role_when_debug_is_on(settings):
    settings.DEBUG = True

    call_command("seed_demo", verbosity=0)

    roles = dict(
        User.objects.filter(email__endswith="@demo.chairside.test").values_list("email", "roles")
    )
    assert roles == {
        "frontdesk@demo.chairside.test": [Role.FRONT_DESK],
        "nurse@demo.chairside.test": [Role.NURSE],
        "physician@demo.chairside.test": [Role.PHYSICIAN],
        "admin@demo.chairside.test": [Role.CLINIC_ADMIN],
        "editor@demo.chairside.test": [Role.CONTENT_EDITOR],
        "director@demo.chairside.test": [Role.PHYSICIAN, Role.CLINIC_ADMIN],
    }


@pytest.mark.parametrize("mailbox", [account.mailbox for account in DEMO_ACCOUNTS])
def test_each_demo_login_signs_in_with_the_demo_password(settings, client, mailbox):
    settings.DEBUG = True
    settings.DEMO_PASSWORD = "a-different-demo-password"
    call_command("seed_demo", verbosity=0)

    response = client.post(
        "/staff/login/",
        {"username": f"{mailbox}@demo.chairside.test", "password": "a-different-demo-password"},
    )

    assert response.status_code == 302
    assert response.url == "/staff/"


def test_it_puts_back_a_demo_password_that_was_changed(settings, client):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    nurse = User.objects.get(email="nurse@demo.chairside.test")
    nurse.set_password("something else entirely")
    nurse.roles = [Role.CLINIC_ADMIN]
    nurse.save(update_fields=["password", "roles"])

    call_command("seed_demo", verbosity=0)

    nurse.refresh_from_db()
    assert nurse.check_password(settings.DEMO_PASSWORD)
    assert nurse.roles == [Role.NURSE]


def test_demo_logins_need_no_second_factor_and_lose_one_set_up_while_trying(settings, client):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    physician = User.objects.get(email="physician@demo.chairside.test")
    enrol_authenticator(physician)

    call_command("seed_demo", verbosity=0)

    assert not TOTPDevice.objects.filter(user=physician).exists()
    assert AuditEvent.objects.filter(summary="demo account reset: second factor").exists()
    client.post("/staff/login/", {"username": physician.email, "password": settings.DEMO_PASSWORD})
    assert client.get("/staff/").status_code == 200  # no second factor asked


def test_demo_logins_cannot_sign_in_once_debug_is_off(settings, client):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    settings.DEBUG = False

    response = client.post(
        "/staff/login/",
        {"username": "admin@demo.chairside.test", "password": settings.DEMO_PASSWORD},
    )

    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2025, 11, 1), (date(2025, 11, 27), "Thanksgiving")),
        (date(2025, 11, 28), (date(2025, 12, 25), "Christmas Day")),
        (date(2025, 12, 26), (date(2026, 1, 1), "New Year's Day")),
        (date(2026, 5, 1), (date(2026, 5, 25), "Memorial Day")),
        (date(2026, 8, 1), (date(2026, 9, 7), "Labor Day")),
        (date(2026, 7, 4), (date(2026, 7, 4), "Independence Day")),
    ],
)
def test_the_closure_falls_on_the_next_public_holiday(today, expected):
    assert upcoming_holiday(today) == expected


def test_the_demo_records_the_follow_up_its_approval_mentions(settings, client):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    samuel = Patient.objects.get(email="samuel.okonkwo@example.com")
    physician = User.objects.get(email="physician@demo.chairside.test")

    # His PHQ-9 item 9 raised an alert; the approval says it was followed up by phone.
    alert = samuel.safety_alerts.get()
    assert not SafetyAlert.objects.open().exists()
    assert alert.resolved_by == physician
    assert alert.follow_up_note == "Item 9 followed up by phone the same day: safety plan in place."
    assert AuditEvent.objects.filter(
        summary=f"recorded the follow-up of a safety alert for patient {samuel.public_id}"
    ).exists()
    client.post("/staff/login/", {"username": physician.email, "password": settings.DEMO_PASSWORD})
    chart = client.get(f"/staff/patients/{samuel.public_id}/").content.decode()
    assert 'data-testid="safety-alert-open"' not in chart
    assert "Earlier safety alerts, followed up" in chart
    assert "safety plan in place." in chart


def test_the_demo_sends_no_urgent_email_for_the_alert_it_followed_up(settings, mailoutbox):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    # Queued when the alert was raised, committed with its follow-up: the outbox skips it.
    message = OutboxMessage.objects.get(kind="safety_alert")
    claims = dict(outbox_claim_due(limit=100, lease=timedelta(minutes=5)))

    outbox_send(message.pk, claims[message.pk])

    message.refresh_from_db()
    assert (message.status, message.skip_reason) == (OutboxStatus.SKIPPED, "not_wanted")
    assert not [mail for mail in mailoutbox if mail.subject.startswith("Urgent")]
