"""The second factor: setting one up, signing in with it, what is enforced for whom, lost
devices, the lockout and the per-role policy.

These tests sign in through the login page with the password (the half-signed-in state);
``client.force_login`` would give a session that has already passed the second factor.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_otp_webauthn.models import WebAuthnCredential

from clinic import second_factor
from clinic.audit import Action
from clinic.middleware import LAST_ACTIVITY_KEY
from clinic.models import AuditEvent, SecondFactorPolicy
from clinic.roles import Role
from conftest import PASSWORD, make_staff
from tests.api_tokens import api_key_for
from tests.second_factor import current_code, enrol_authenticator

VERIFY = "/staff/second-factor/verify/"
SET_UP = "/staff/second-factor/set-up/"
SET_UP_APP = "/staff/second-factor/set-up/app/"
MINUTE = 60


def password_sign_in(client: Client, user) -> None:
    response = client.post("/staff/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302, "the password was refused"


def second_factor_events(user) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(object_id=str(user.public_id))
        .exclude(action__in=[Action.LOGIN, Action.LOGOUT])
        .order_by("id")
    ) + list(
        AuditEvent.objects.filter(
            object_id=str(user.public_id), action=Action.LOGIN, object_type="otp.device"
        )
    )


def recovery_codes_for(user, count: int = 3) -> list[str]:
    device = StaticDevice.objects.create(user=user, name="Recovery codes", confirmed=True)
    codes = [f"code{n}abcd" for n in range(count)]
    StaticToken.objects.bulk_create([StaticToken(device=device, token=code) for code in codes])
    return codes


# --- Setting up an authenticator app ------------------------------------------------------


def test_a_physician_without_one_is_taken_to_set_one_up_and_can_do_nothing_else(client, phil):
    password_sign_in(client, phil)

    for url in ["/staff/", "/staff/patients/", "/staff/accounts/me/", "/admin/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(f"{SET_UP}?next="), url

    api = client.get("/api/v1/patients/")
    assert api.status_code == 403
    assert "Finish signing in first" in api.json()["detail"]

    page = client.get(SET_UP)
    assert "Your role needs a second factor" in page.content.decode()
    assert client.post("/staff/logout/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_it_sets_up_an_authenticator_app_and_shows_recovery_codes_once(client, phil):
    password_sign_in(client, phil)

    page = client.get(f"{SET_UP_APP}?next=/staff/patients/")
    html = page.content.decode()
    assert "<svg" in html
    assert 'autocomplete="one-time-code"' in html
    assert 'inputmode="numeric"' in html
    device = TOTPDevice.objects.get(user=phil, confirmed=False)
    assert second_factor.totp_secret(device) in html

    wrong = client.post(SET_UP_APP, {"code": "000000", "next": "/staff/patients/"})
    assert "That code does not match" in wrong.content.decode()

    done = client.post(SET_UP_APP, {"code": current_code(device), "next": "/staff/patients/"})
    assert done.status_code == 302
    assert done["Location"].startswith("/staff/second-factor/recovery-codes/")

    codes_page = client.get(done["Location"])
    codes = re.findall(r'<li class="col">(\w+)</li>', codes_page.content.decode())
    assert len(codes) == 10
    assert StaticToken.objects.filter(device__user=phil).count() == 10
    assert client.get(done["Location"]).status_code == 302  # shown once
    assert client.get("/staff/patients/").status_code == 200  # the session is verified

    summaries = [event.summary for event in second_factor_events(phil)]
    assert "set up an authenticator app as their second factor" in summaries
    assert "made 10 new recovery codes (any earlier ones stopped working)" in summaries
    secret = device.key
    for event in AuditEvent.objects.all():
        assert secret not in event.summary
        assert not any(code in event.summary for code in codes)


# --- Signing in ---------------------------------------------------------------------------


def test_it_signs_in_with_the_code_from_the_app(client, phil):
    device = enrol_authenticator(phil)
    password_sign_in(client, phil)

    response = client.get("/staff/patients/")
    assert response["Location"] == f"{VERIFY}?next=%2Fstaff%2Fpatients%2F"
    page = client.get(response["Location"])
    assert 'autocomplete="one-time-code"' in page.content.decode()
    assert page.context["staff_navigation"] == []

    done = client.post(VERIFY, {"code": current_code(device), "next": "/staff/patients/"})

    assert done.status_code == 302
    assert done["Location"] == "/staff/patients/"
    assert client.get("/staff/patients/").status_code == 200


def test_a_recovery_code_signs_in_once(client, phil):
    enrol_authenticator(phil)
    [code, *_others] = recovery_codes_for(phil)
    password_sign_in(client, phil)

    done = client.post(VERIFY, {"recovery_code": f" {code.upper()} "}, follow=True)

    assert done.redirect_chain[-1][0] == "/staff/"
    assert "You have 2 left" in done.content.decode()
    [event] = AuditEvent.objects.filter(object_type="otp.device", action=Action.LOGIN)
    assert event.summary == "used a recovery code (2 left)"
    assert code not in event.summary

    client.post("/staff/logout/")
    password_sign_in(client, phil)
    again = client.post(VERIFY, {"recovery_code": code})
    assert again.status_code == 200
    assert "That recovery code is not right, or was already used" in again.content.decode()
    assert client.get("/staff/").status_code == 302


def test_a_passkey_only_user_is_offered_the_passkey_and_recovery_codes(client, nina):
    WebAuthnCredential.objects.create(
        user=nina, name="Laptop", confirmed=True, credential_id=b"x", public_key=b"y"
    )
    password_sign_in(client, nina)

    page = client.get(VERIFY)

    html = page.content.decode()
    assert 'id="passkey-verification-button"' in html
    assert 'id="otp_webauthn_config"' in html
    assert "Use a recovery code" in html
    assert "<script>" not in html  # configuration is JSON, scripts are files


def test_the_front_desk_is_not_asked_for_a_second_factor(client, fran):
    password_sign_in(client, fran)

    assert client.get("/staff/").status_code == 200
    assert client.get("/api/v1/patients/").status_code == 200


def test_someone_who_set_one_up_without_needing_it_must_still_use_it(client, fran):
    enrol_authenticator(fran)
    password_sign_in(client, fran)

    assert client.get("/staff/")["Location"].startswith(VERIFY)


def test_an_api_token_is_not_held_up_by_a_half_signed_in_session(client, phil):
    key = api_key_for(phil)
    password_sign_in(client, phil)

    response = client.get("/api/v1/me/", headers={"Authorization": f"Token {key}"})

    assert response.status_code == 200


def test_setting_up_a_new_device_is_refused_until_the_present_one_is_proved(client, phil):
    enrol_authenticator(phil)
    password_sign_in(client, phil)

    for url in [SET_UP, SET_UP_APP, "/staff/second-factor/set-up/passkey/"]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(VERIFY), url
    assert not TOTPDevice.objects.filter(user=phil, confirmed=False).exists()


def test_demo_accounts_are_exempt_while_debug_is_on(client, settings, db):
    settings.DEBUG = True
    demo = make_staff(f"physician@{settings.DEMO_EMAIL_DOMAIN}", "Demo Physician", Role.PHYSICIAN)

    password_sign_in(client, demo)

    assert client.get("/staff/").status_code == 200
    # Their own page says why, rather than "your role does not need one".
    page = client.get("/staff/accounts/me/second-factor/").content.decode()
    assert "This is a demo login" in page
    assert "Your role does not need one" not in page


# --- Lockout and idle timeout ---------------------------------------------------------------


def test_wrong_codes_pause_sign_in_and_say_for_how_long(client, phil, alice, settings):
    device = enrol_authenticator(phil)
    password_sign_in(client, phil)

    for attempt in range(1, settings.AXES_FAILURE_LIMIT):
        response = client.post(VERIFY, {"code": "000000"})
        left = settings.AXES_FAILURE_LIMIT - attempt
        assert f"After {left} more wrong code" in response.content.decode()
        assert "paused for 15 minutes" in response.content.decode()

    locked = client.post(VERIFY, {"code": "000000"})

    assert locked.status_code == 429
    assert "paused for 15 minutes" in locked.content.decode()
    assert "_auth_user_id" not in client.session  # signed out
    # The right password and then the right code do not help until the pause ends...
    password_sign_in(client, phil)
    assert client.post(VERIFY, {"code": current_code(device)}).status_code == 429
    # ...or a clinic admin unlocks the account.
    admin = Client()
    admin.force_login(alice)
    admin.post(f"/staff/accounts/{phil.public_id}/unlock/")
    password_sign_in(client, phil)
    assert client.post(VERIFY, {"code": current_code(device)}).status_code == 302


def test_a_half_signed_in_session_expires_when_idle(client, phil):
    enrol_authenticator(phil)
    password_sign_in(client, phil)
    assert client.get(VERIFY).status_code == 200
    session = client.session
    session[LAST_ACTIVITY_KEY] -= 16 * MINUTE
    session.save()

    response = client.get(VERIFY)

    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/")
    assert "_auth_user_id" not in client.session


# --- A clinic admin resets a lost device ----------------------------------------------------


def test_a_clinic_admin_resets_a_lost_second_factor(client, alice, phil):
    enrol_authenticator(phil)
    recovery_codes_for(phil)
    phil_browser = Client()
    phil_browser.force_login(phil)
    assert phil_browser.get("/staff/").status_code == 200
    client.force_login(alice)

    confirm = client.get(f"/staff/accounts/{phil.public_id}/second-factor-reset/")
    assert "Reset Phil Physician's second factor?" in confirm.content.decode()
    done = client.post(f"/staff/accounts/{phil.public_id}/second-factor-reset/", follow=True)

    assert "second factor is reset" in done.content.decode()
    assert not TOTPDevice.objects.filter(user=phil).exists()
    assert not StaticDevice.objects.filter(user=phil).exists()
    [event] = AuditEvent.objects.filter(action=Action.DELETE, object_id=str(phil.public_id))
    assert event.actor == alice
    assert event.summary.startswith("reset the second factor (authenticator app, recovery codes)")
    assert "signed out 1 session" in event.summary
    # Phil's open session is gone; at his next sign-in he sets up a new second factor.
    assert phil_browser.get("/staff/").status_code == 302
    assert phil_browser.get("/staff/")["Location"].startswith("/staff/login/")
    password_sign_in(phil_browser, phil)
    assert phil_browser.get("/staff/")["Location"].startswith(SET_UP)


def test_a_clinic_admin_cannot_reset_their_own(alice):
    enrol_authenticator(alice)

    with pytest.raises(ValidationError, match="cannot reset your own"):
        second_factor.second_factor_reset(actor=alice, member=alice)
    assert TOTPDevice.objects.filter(user=alice).exists()


def test_only_clinic_admins_reset(nina, phil, client):
    enrol_authenticator(phil)
    with pytest.raises(PermissionDenied):
        second_factor.second_factor_reset(actor=nina, member=phil)
    client.force_login(nina)
    assert client.post(f"/staff/accounts/{phil.public_id}/second-factor-reset/").status_code == 403


def test_the_reset_ends_only_the_members_sessions(alice, phil, nina):
    for user in (phil, nina):
        Client().force_login(user)

    second_factor.second_factor_reset(actor=alice, member=enrol_authenticator(phil).user)

    owners = {s.get_decoded().get("_auth_user_id") for s in Session.objects.all()}
    assert str(nina.pk) in owners
    assert str(phil.pk) not in owners


# --- The policy -----------------------------------------------------------------------------


def test_the_default_policy_requires_clinicians_and_admins(db):
    assert second_factor.required_roles() == {Role.PHYSICIAN, Role.NURSE, Role.CLINIC_ADMIN}


def test_a_clinic_admin_changes_the_policy_and_it_is_audited(client, alice, fran):
    client.force_login(alice)
    page = client.get("/staff/accounts/second-factor-policy/")
    assert page.status_code == 200

    roles = [Role.FRONT_DESK, Role.NURSE, Role.PHYSICIAN, Role.CLINIC_ADMIN]
    done = client.post("/staff/accounts/second-factor-policy/", {"roles": roles}, follow=True)

    assert "Saved." in done.content.decode()
    assert SecondFactorPolicy.objects.get(role=Role.FRONT_DESK).required
    [event] = AuditEvent.objects.filter(object_type="clinic.secondfactorpolicy")
    assert (event.actor, event.action) == (alice, Action.UPDATE)
    assert event.summary == (
        "second factor required for: Front desk, Nurse, Physician, Clinic admin "
        "(was: Nurse, Physician, Clinic admin)"
    )
    # The front desk now sets one up at the next sign-in.
    desk = Client()
    password_sign_in(desk, fran)
    assert desk.get("/staff/")["Location"].startswith(SET_UP)


def test_only_clinic_admins_see_the_policy_page(client, nina):
    client.force_login(nina)
    assert client.get("/staff/accounts/second-factor-policy/").status_code == 403
    with pytest.raises(PermissionDenied):
        second_factor.second_factor_policy_set(actor=nina, roles=[])


# --- Who has set one up -------------------------------------------------------------------


def test_the_account_list_shows_who_has_set_one_up_without_a_query_per_row(client, alice):
    client.force_login(alice)  # alice gets an authenticator app as she signs in
    client.get("/staff/accounts/")  # the session's first request does its own bookkeeping
    with CaptureQueriesContext(connection) as few:
        client.get("/staff/accounts/")
    for n in range(6):
        member = make_staff(f"nurse{n}@clinic.test", f"Nurse {n}", Role.NURSE)
        if n % 2:
            enrol_authenticator(member)
            recovery_codes_for(member, count=n)

    with CaptureQueriesContext(connection) as many:
        response = client.get("/staff/accounts/")

    assert len(many) == len(few)
    html = response.content.decode()
    assert html.count('<span class="badge text-bg-success">App</span>') == 4  # alice + 3
    assert "5 recovery codes left" in html
    assert html.count("None</span>") == 3


def test_the_account_page_offers_the_reset(client, alice, phil):
    enrol_authenticator(phil)
    client.force_login(alice)

    html = client.get(f"/staff/accounts/{phil.public_id}/").content.decode()
    assert "Reset the second factor…" in html
    own = client.get(f"/staff/accounts/{alice.public_id}/").content.decode()
    assert "You cannot reset your own" in own


def test_people_manage_their_own_second_factor(client, nina):
    client.force_login(nina)
    WebAuthnCredential.objects.create(
        user=nina, name="Laptop", confirmed=True, credential_id=b"x", public_key=b"y"
    )
    page = client.get("/staff/accounts/me/second-factor/")
    assert "Laptop" in page.content.decode()

    response = client.post("/staff/accounts/me/second-factor/app/remove/", follow=True)
    assert "Your authenticator app is removed" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=nina).exists()
    passkey = WebAuthnCredential.objects.get(user=nina)
    remove = f"/staff/accounts/me/second-factor/passkeys/{passkey.credential_id_sha256}/remove/"
    refused = client.post(remove, follow=True)
    assert "this is your only one" in refused.content.decode()
    assert [e.summary for e in AuditEvent.objects.filter(action=Action.DELETE)] == [
        "removed their authenticator app"
    ]

    WebAuthnCredential.objects.create(
        user=nina, name="Phone", confirmed=True, credential_id=b"z", public_key=b"y"
    )
    removed = client.post(remove, follow=True)
    assert "The passkey is removed" in removed.content.decode()
    assert list(WebAuthnCredential.objects.filter(user=nina).values_list("name", flat=True)) == [
        "Phone"
    ]
