"""Signed-in sessions: listed on "Your account" and on a member's account page, each one
revocable; "sign out of all other sessions"; a password change and a deactivation end them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone

from clinic import accounts
from clinic.audit import Action
from clinic.middleware import LAST_ACTIVITY_KEY
from clinic.models import AuditEvent, StaffSession, User
from clinic.user_agents import browser_summary
from conftest import PASSWORD
from tests.second_factor import enter_code

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
NEW_PASSWORD = "plum orchard lantern 42"


def signed_in(email: str, user_agent: str = FIREFOX, ip: str = "203.0.113.7") -> Client:
    browser = Client(HTTP_USER_AGENT=user_agent, REMOTE_ADDR=ip)
    browser.post("/staff/login/", {"username": email, "password": PASSWORD})
    assert "_auth_user_id" in browser.session
    enter_code(browser, User.objects.get(email=email))
    return browser


def still_signed_in(browser: Client) -> bool:
    return browser.get("/staff/").status_code == 200


def session_events() -> list[str]:
    events = AuditEvent.objects.filter(object_type="clinic.staffsession").order_by("id")
    return list(events.values_list("summary", flat=True))


@pytest.mark.parametrize(
    ("user_agent", "short"),
    [
        (FIREFOX, "Firefox on Windows"),
        (IPHONE, "Safari on iPhone"),
        (
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0 Safari/537.36 Edg/126.0",
            "Edge on Linux",
        ),
        ("curl/8.5.0", "curl"),
        ("", "A browser"),
    ],
)
def test_it_names_the_browser_in_short(user_agent, short):
    assert browser_summary(user_agent) == short


def test_signing_in_records_the_session_and_signing_out_removes_it(db, nina):
    browser = signed_in("nina@clinic.test")

    [row] = StaffSession.objects.all()
    assert (row.user, row.browser, row.ip_address) == (nina, "Firefox on Windows", "203.0.113.7")
    assert row.session_key == browser.session.session_key

    browser.post("/staff/logout/")
    assert not StaffSession.objects.exists()


def test_your_account_lists_your_sessions_and_marks_this_one(db, nina):
    phone = signed_in("nina@clinic.test", IPHONE, "198.51.100.4")
    desk = signed_in("nina@clinic.test")

    page = desk.get("/staff/accounts/me/")

    listed = [row.browser for row in page.context["staff_sessions"]]
    assert sorted(listed) == ["Firefox on Windows", "Safari on iPhone"]
    html = page.content.decode()
    assert "This session" in html
    assert "198.51.100.4" in html
    assert still_signed_in(phone)


def test_you_can_sign_out_one_of_your_other_sessions(db, nina):
    phone = signed_in("nina@clinic.test", IPHONE)
    desk = signed_in("nina@clinic.test")
    phone_row = StaffSession.objects.get(user_agent=IPHONE)

    response = desk.post(f"/staff/accounts/me/sessions/{phone_row.public_id}/revoke/")

    assert response["Location"] == "/staff/accounts/me/"
    assert not still_signed_in(phone)
    assert not Session.objects.filter(session_key=phone_row.session_key).exists()
    assert still_signed_in(desk)
    assert session_events() == ["signed out their session on Safari on iPhone"]


def test_this_session_is_signed_out_with_the_sign_out_button_only(db, nina):
    desk = signed_in("nina@clinic.test")
    row = StaffSession.objects.get()

    response = desk.post(f"/staff/accounts/me/sessions/{row.public_id}/revoke/", follow=True)

    assert "That is this session" in response.content.decode()
    assert still_signed_in(desk)


def test_you_can_sign_out_of_all_other_sessions(db, nina):
    others = [signed_in("nina@clinic.test", IPHONE), signed_in("nina@clinic.test")]
    desk = signed_in("nina@clinic.test")

    desk.post("/staff/accounts/me/sessions/revoke-others/")

    assert not any(still_signed_in(other) for other in others)
    assert still_signed_in(desk)
    assert StaffSession.objects.count() == 1
    assert session_events() == ["signed out of 2 other sessions"]


def test_you_cannot_sign_out_someone_elses_session_from_your_page(db, nina, fran):
    fran_browser = signed_in("fran@clinic.test")
    desk = signed_in("nina@clinic.test")
    fran_row = StaffSession.objects.get(user=fran)

    response = desk.post(f"/staff/accounts/me/sessions/{fran_row.public_id}/revoke/")

    assert response.status_code == 404
    assert still_signed_in(fran_browser)


def test_a_clinic_admin_sees_and_ends_a_members_sessions(db, alice, nina):
    phone = signed_in("nina@clinic.test", IPHONE)
    desk = signed_in("nina@clinic.test")
    admin = signed_in("alice@clinic.test")
    url = f"/staff/accounts/{nina.public_id}/"

    page = admin.get(url)
    assert len(page.context["staff_sessions"]) == 2
    assert "Safari on iPhone" in page.content.decode()
    phone_row = StaffSession.objects.get(user_agent=IPHONE)
    admin.post(f"{url}sessions/{phone_row.public_id}/revoke/")
    assert not still_signed_in(phone)
    assert still_signed_in(desk)

    response = admin.post(f"{url}sessions/revoke-all/")

    assert response["Location"] == url
    assert not still_signed_in(desk)
    assert still_signed_in(admin)
    assert session_events() == [
        "signed out Nina Nurse's session on Safari on iPhone",
        "signed Nina Nurse out everywhere (1 session)",
    ]
    assert AuditEvent.objects.filter(actor=alice, object_id=str(nina.public_id)).count() == 2


@pytest.mark.parametrize("url", ["sessions/revoke-all/", "sessions/{row}/revoke/"])
def test_only_a_clinic_admin_ends_a_members_sessions(db, fran, nina, url):
    nina_browser = signed_in("nina@clinic.test")
    row = StaffSession.objects.get(user=nina)
    desk = signed_in("fran@clinic.test")

    response = desk.post(f"/staff/accounts/{nina.public_id}/" + url.format(row=row.public_id))

    assert response.status_code == 403
    assert still_signed_in(nina_browser)


def test_changing_your_password_signs_out_your_other_sessions(db, nina):
    phone = signed_in("nina@clinic.test", IPHONE)
    desk = signed_in("nina@clinic.test")

    desk.post(
        "/staff/accounts/me/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert not still_signed_in(phone)
    assert still_signed_in(desk)
    [row] = StaffSession.objects.all()
    assert row.session_key == desk.session.session_key  # followed to the cycled key
    event = AuditEvent.objects.filter(action=Action.UPDATE).latest("id")
    assert event.summary == "changed their password, which signed out 1 other session"


def test_setting_a_password_by_link_signs_out_every_session(client, alice, nina):
    phone = signed_in("nina@clinic.test", IPHONE)
    nina.refresh_from_db()  # the link is made after that sign-in
    token = accounts.staff_password_link_token(actor=alice, member=nina)

    response = client.post(
        f"/staff/accounts/set-password/{nina.public_id}/{token}/",
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )

    assert response.status_code == 302, response.content.decode()

    assert not still_signed_in(phone)
    assert not StaffSession.objects.exists()


def test_deactivating_an_account_ends_its_sessions(db, alice, nina):
    browser = signed_in("nina@clinic.test")

    accounts.staff_set_active(actor=alice, member=nina, is_active=False)

    assert not StaffSession.objects.exists()
    assert not still_signed_in(browser)


def test_a_session_whose_record_was_removed_is_signed_out_at_its_next_activity(db, nina):
    browser = signed_in("nina@clinic.test")
    browser.get("/staff/")  # notes the activity time
    session = browser.session
    session[LAST_ACTIVITY_KEY] -= 60  # a minute later, the next activity is written
    session.save()
    StaffSession.objects.all().delete()

    response = browser.get("/staff/")

    assert response.status_code == 302
    assert not still_signed_in(browser)


def test_old_idle_sessions_are_not_listed(db, nina, settings):
    desk = signed_in("nina@clinic.test")
    signed_in("nina@clinic.test", IPHONE)
    StaffSession.objects.filter(user_agent=IPHONE).update(
        last_seen_at=timezone.now() - settings.SESSION_IDLE_TIMEOUT - timedelta(minutes=5)
    )

    listed = desk.get("/staff/accounts/me/").context["staff_sessions"]

    assert [row.browser for row in listed] == ["Firefox on Windows"]


@pytest.mark.parametrize("sessions", [1, 4])
def test_the_account_page_lists_sessions_in_the_same_number_of_queries(
    db, alice, nina, sessions, django_assert_num_queries
):
    for _ in range(sessions):
        signed_in("nina@clinic.test", IPHONE)
    admin = signed_in("alice@clinic.test")
    admin.get(f"/staff/accounts/{nina.public_id}/")
    with django_assert_num_queries(ACCOUNT_EDIT_QUERIES):
        admin.get(f"/staff/accounts/{nina.public_id}/")


# session and user, the member (with its failed sign-ins), the co-sign lockout, tokens, sessions
ACCOUNT_EDIT_QUERIES = 5
