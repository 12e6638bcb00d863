"""Set-password links by email: the invitation, a new link from a clinic admin, and
"Forgot your password?" (same answer for every address, limited, never to a deactivated
or, without DEBUG, a demo account); and the password rules shown wherever one is set."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache

from clinic import account_emails as tasks
from clinic.audit import Action
from clinic.models import AuditEvent, User
from clinic.roles import Role
from conftest import PASSWORD, make_staff

NEW_PASSWORD = "plum orchard lantern 42"


@pytest.fixture(autouse=True)
def own_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    cache.clear()


@pytest.fixture
def send_at_commit(monkeypatch, django_capture_on_commit_callbacks):
    """Run what waits for the commit, with the email task run here instead of a worker."""
    monkeypatch.setattr(tasks.send_password_email, "delay", tasks.send_password_email)

    def run():
        return django_capture_on_commit_callbacks(execute=True)

    return run


def link_in(body: str) -> str:
    match = re.search(r"https?://\S+/staff/accounts/set-password/\S+/", body)
    assert match is not None, body
    return match.group(0)


# --- Invitation and new links --------------------------------------------------------------


def test_a_new_account_gets_an_invitation_email(client, mara, settings, send_at_commit, mailoutbox):
    settings.SITE_URL = "https://clinic.example"
    settings.CLINIC_NAME = "Riverside Ketamine"
    client.force_login(mara)
    with send_at_commit():
        response = client.post(
            "/staff/accounts/new/",
            {"email": "dana@clinic.test", "full_name": "Dana Doctor", "roles": ["nurse"]},
        )
    assert response.status_code == 302

    [email] = mailoutbox
    assert email.to == ["dana@clinic.test"]
    assert email.subject == "Your staff account at Riverside Ketamine"
    assert "Mara Director has opened a staff account for you at Riverside Ketamine" in email.body
    assert re.search(r"until \w{3} \d+, \d{4}, \d+:\d\d [AP]M \(America/New_York\)", email.body)
    link = link_in(email.body)
    assert link.startswith("https://clinic.example/staff/accounts/set-password/")
    # A link is still shown once on the page, in case the email does not arrive (its token
    # may differ by the second it was made in).
    dana = User.objects.get(email="dana@clinic.test")
    page = client.get(response["Location"]).content.decode()
    assert f"/staff/accounts/set-password/{dana.public_id}/" in page
    event = AuditEvent.objects.filter(action=Action.UPDATE).latest("id")
    assert event.summary == "emailed an invitation with a set-password link"
    assert link.rsplit("/", 2)[-2] not in str(vars(event))

    client.logout()
    path = link.removeprefix("https://clinic.example")
    done = client.post(path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done["Location"] == "/staff/login/"
    assert User.objects.get(email="dana@clinic.test").check_password(NEW_PASSWORD)


def test_without_site_url_the_link_uses_the_address_the_admin_used(
    client, alice, nina, settings, send_at_commit, mailoutbox
):
    settings.SITE_URL = ""
    client.force_login(alice)
    with send_at_commit():
        client.post(f"/staff/accounts/{nina.public_id}/password-link/")

    [email] = mailoutbox
    assert email.subject.startswith("Set your password for ")
    assert "Alice Admin sent you a link" in email.body
    assert link_in(email.body).startswith("http://testserver/staff/accounts/set-password/")


def test_a_deactivated_account_gets_no_email_queued_before_it_was_deactivated(
    alice, nina, send_at_commit, mailoutbox
):
    nina.is_active = False
    nina.save(update_fields=["is_active"])
    assert not tasks.send_password_email(nina.pk, "new_link", alice.pk, "https://x.example")
    assert mailoutbox == []


# --- Forgot your password? -----------------------------------------------------------------


def ask_for_reset(client, email: str):
    return client.post("/staff/password-reset/", {"email": email})


def test_the_sign_in_page_links_to_forgot_password(client, db):
    assert 'href="/staff/password-reset/"' in client.get("/staff/login/").content.decode()
    assert client.get("/staff/password-reset/").status_code == 200


def test_forgot_password_emails_a_link_that_sets_a_new_password(
    client, nina, settings, send_at_commit, mailoutbox
):
    settings.SITE_URL = "https://clinic.example"
    with send_at_commit():
        response = ask_for_reset(client, " Nina@Clinic.test ")

    assert response["Location"] == "/staff/password-reset/sent/"
    [email] = mailoutbox
    assert email.to == ["nina@clinic.test"]
    assert email.subject.startswith("Reset your password for ")
    path = link_in(email.body).removeprefix("https://clinic.example")
    client.post(path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    nina.refresh_from_db()
    assert nina.check_password(NEW_PASSWORD)
    summaries = list(
        AuditEvent.objects.filter(object_id=str(nina.public_id))
        .order_by("id")
        .values_list("summary", flat=True)
    )
    assert summaries == [
        "a password reset link was asked for and emailed",
        "set their password with a set-password link",
    ]
    # Used once: the link is spent.
    assert b"This link no longer works" in client.get(path).content


@pytest.mark.parametrize(
    "email", ["nobody@clinic.test", "olga@clinic.test", "nurse@demo.chairside.test"]
)
def test_forgot_password_answers_the_same_and_sends_nothing_to_these(
    client, nina, olga, settings, send_at_commit, mailoutbox, email
):
    settings.DEBUG = False
    make_staff("nurse@demo.chairside.test", "Demo Nurse", Role.NURSE)
    with send_at_commit():
        refused = ask_for_reset(client, email)
        accepted = ask_for_reset(client, "nina@clinic.test")

    assert (refused.status_code, refused["Location"]) == (302, accepted["Location"])
    assert [message.to for message in mailoutbox] == [["nina@clinic.test"]]
    done = client.get(refused["Location"]).content.decode()
    assert "If the address you entered belongs to an active staff account" in done


def test_forgot_password_is_limited_per_address(client, nina, send_at_commit, mailoutbox):
    with send_at_commit():
        for _ in range(5):
            response = ask_for_reset(client, "nina@clinic.test")

    assert response["Location"] == "/staff/password-reset/sent/"
    assert len(mailoutbox) == 3


def test_forgot_password_is_limited_per_client_address(client, db, send_at_commit, mailoutbox):
    people = [make_staff(f"p{n}@clinic.test", f"P {n}", Role.FRONT_DESK) for n in range(22)]
    with send_at_commit():
        for person in people:
            ask_for_reset(client, person.email)

    assert len(mailoutbox) == 20


def test_forgot_password_explains_a_bad_address(client, db):
    response = ask_for_reset(client, "not an address")

    assert response.status_code == 200
    assert "Enter a valid email address" in response.content.decode()


# --- Password rules -------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["set-password", "change"])
def test_the_password_rules_are_shown_and_a_common_password_is_refused(client, alice, nina, page):
    if page == "change":
        client.force_login(nina)
        url = "/staff/accounts/me/password/"
        data = {"old_password": PASSWORD}
    else:
        from clinic import accounts

        token = accounts.staff_password_link_token(actor=alice, member=nina)
        url = f"/staff/accounts/set-password/{nina.public_id}/{token}/"
        data = {}

    shown = client.get(url).content.decode()
    assert "at least 12 characters" in shown
    assert "commonly used password" in shown

    common = "password1234"
    response = client.post(url, {**data, "new_password1": common, "new_password2": common})
    assert response.status_code == 200
    assert "This password is too common." in response.content.decode()
    nina.refresh_from_db()
    assert nina.check_password(PASSWORD)
