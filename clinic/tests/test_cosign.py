"""A second member of staff confirming with their own password (clinic.cosign).

The password box on a colleague's screen has the same lockout as signing in: after
AXES_FAILURE_LIMIT wrong passwords the cosigner is refused, even with the right one, until
the lockout ends or a clinic admin unlocks them. Failures are counted in the cache under
the cosigner's random public id, so tests running side by side do not meet.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import pytest
from django.test import override_settings
from django_otp_webauthn.models import WebAuthnCredential

from clinic import second_factor
from clinic.cosign import cosigner_errors, cosigner_locked_out, cosigner_unlock
from clinic.permissions import Capability
from conftest import PASSWORD
from tests.second_factor import current_code, enrol_authenticator

WRONG = "not the password at all"
LIMIT = 3


def confirm(actor, cosigner, password: str, request=None, otp: str = "") -> dict[str, list[str]]:
    return cosigner_errors(
        actor=actor,
        cosigner=cosigner,
        password=password,
        otp=otp,
        capability=Capability.HANDLE_CONTROLLED_SUBSTANCES,
        field="witness",
        what="saw the drug destroyed",
        who="another nurse or physician",
        request=request,
    )


@pytest.fixture(autouse=True)
def _limit():
    with override_settings(AXES_FAILURE_LIMIT=LIMIT):
        yield


def test_the_right_password_confirms(nina, phil):
    assert confirm(nina, phil, PASSWORD) == {}


def test_a_wrong_password_is_refused_by_the_password_field(nina, phil):
    errors = confirm(nina, phil, WRONG)

    assert errors == {
        "witness_password": ["That is not Phil Physician's password: ask them to enter it again."]
    }


def test_one_wrong_password_short_of_the_limit_still_lets_the_right_one_through(nina, phil):
    for _ in range(LIMIT - 1):
        assert "witness_password" in confirm(nina, phil, WRONG)

    assert confirm(nina, phil, PASSWORD) == {}

    # The right password started the count again: as many wrong ones still do not lock.
    for _ in range(LIMIT - 1):
        assert "locked out" not in " ".join(confirm(nina, phil, WRONG)["witness_password"])
    assert not cosigner_locked_out(phil)


def test_the_limit_of_wrong_passwords_locks_the_cosigner_out(nina, phil):
    for _ in range(LIMIT):
        confirm(nina, phil, WRONG)

    errors = confirm(nina, phil, PASSWORD)

    assert cosigner_locked_out(phil)
    (message,) = errors["witness_password"]
    assert "Phil Physician entered a wrong password or code too many times and is locked out" in (
        message
    )
    assert "a clinic admin to unlock them" in message


def test_the_lockout_is_the_cosigners_whoever_typed_the_wrong_passwords(nina, phil, request):
    other_nurse = request.getfixturevalue("olga")  # the actor need not be able to cosign
    for actor in [nina, other_nurse, nina]:
        confirm(actor, phil, WRONG)

    assert cosigner_locked_out(phil)
    assert not cosigner_locked_out(nina)


def test_unlocking_lets_the_cosigner_confirm_again(nina, phil):
    for _ in range(LIMIT):
        confirm(nina, phil, WRONG)

    cosigner_unlock(phil)

    assert not cosigner_locked_out(phil)
    assert confirm(nina, phil, PASSWORD) == {}


def test_a_clinic_admins_unlock_button_also_ends_the_cosigning_lockout(client, alice, nina, phil):
    for _ in range(LIMIT):
        confirm(nina, phil, WRONG)
    client.force_login(alice)
    edit_page = client.get(f"/staff/accounts/{phil.public_id}/").content.decode()
    assert "Locked out of confirming as a second person" in edit_page

    response = client.post(f"/staff/accounts/{phil.public_id}/unlock/", follow=True)

    assert "Unlocked" in response.content.decode()
    assert not cosigner_locked_out(phil)
    assert confirm(nina, phil, PASSWORD) == {}


def test_nobody_cosigns_for_themselves(nina):
    errors = confirm(nina, nina, PASSWORD)

    assert errors == {
        "witness": [
            "You cannot be your own second person: ask another nurse or physician to confirm "
            "with their password."
        ]
    }


@pytest.mark.parametrize("cosigner_name", ["fran", "alice", "edie", "olga"])
def test_a_cosigner_without_the_capability_is_refused(nina, cosigner_name, request):
    cosigner = request.getfixturevalue(cosigner_name)

    errors = confirm(nina, cosigner, PASSWORD)

    assert errors == {
        "witness": [f"{cosigner} cannot confirm this: ask another nurse or physician."]
    }


def test_a_refused_cosigner_does_not_count_towards_a_lockout(nina, fran):
    for _ in range(LIMIT + 1):
        confirm(nina, fran, WRONG)

    assert not cosigner_locked_out(fran)


def test_no_cosigner_or_no_password_says_what_is_missing(nina, phil):
    assert confirm(nina, None, PASSWORD) == {
        "witness": ["Choose the second member of staff who saw the drug destroyed."]
    }
    for _ in range(LIMIT + 1):
        assert confirm(nina, phil, "") == {
            "witness_password": ["Phil Physician must enter their own password to confirm."]
        }
    assert not cosigner_locked_out(phil)  # an empty box is not a guess


def test_a_wrong_password_is_logged_by_staff_id_without_the_password(nina, phil, caplog, rf):
    request = rf.post("/", REMOTE_ADDR="203.0.113.9")
    with caplog.at_level(logging.DEBUG):
        confirm(nina, phil, "hunter2-secret", request=request)
        confirm(nina, phil, PASSWORD, request=request)

    (record,) = [r for r in caplog.records if r.name == "clinic.cosign"]
    logged = record.getMessage()
    assert str(phil.public_id) in logged
    assert str(nina.public_id) in logged
    assert "203.0.113.9" in logged
    for secret in ["hunter2-secret", PASSWORD, phil.email, phil.full_name]:
        assert all(secret not in r.getMessage() for r in caplog.records)


def test_the_lockout_ends_after_the_cool_off_time(nina, phil):
    with override_settings(AXES_COOLOFF_TIME=timedelta(seconds=1)):
        for _ in range(LIMIT):
            confirm(nina, phil, WRONG)
        assert cosigner_locked_out(phil)

        time.sleep(1.2)

        assert not cosigner_locked_out(phil)
        assert confirm(nina, phil, PASSWORD) == {}


# --- The cosigner's second factor ---------------------------------------------------------


def test_a_cosigner_with_an_authenticator_app_also_enters_its_code(nina, phil):
    device = enrol_authenticator(phil)

    assert confirm(nina, phil, PASSWORD) == {
        "witness_otp": ["Enter the 6-digit code from Phil Physician's authenticator app."]
    }
    assert confirm(nina, phil, PASSWORD, otp=current_code(device)) == {}


def test_a_wrong_code_counts_like_a_wrong_password(nina, phil):
    device = enrol_authenticator(phil)
    for _ in range(LIMIT - 1):
        errors = confirm(nina, phil, PASSWORD, otp="000000")
        assert errors["witness_otp"][0].startswith("That code is not right.")
    confirm(nina, phil, WRONG)

    errors = confirm(nina, phil, PASSWORD, otp=current_code(device))

    assert cosigner_locked_out(phil)
    assert "locked out" in errors["witness_password"][0]


def test_a_cosigner_with_only_a_passkey_enters_a_recovery_code_once(nina, phil):
    WebAuthnCredential.objects.create(
        user=phil, name="Phone", confirmed=True, credential_id=b"x", public_key=b"y"
    )
    [code] = second_factor.recovery_codes_create(user=phil)[:1]

    (asked,) = confirm(nina, phil, PASSWORD)["witness_otp"]
    assert "uses a passkey, which cannot be checked on this screen" in asked
    assert "recovery codes" in asked
    assert confirm(nina, phil, PASSWORD, otp=code) == {}
    assert "witness_otp" in confirm(nina, phil, PASSWORD, otp=code)  # used up


def test_the_waste_form_has_a_box_for_the_witness_code(client, nina):
    from infusions.forms_ledger import WasteForm

    field = WasteForm(actor=nina).fields["witness_otp"]
    assert field.widget.attrs["autocomplete"] == "one-time-code"
    assert field.widget.attrs["inputmode"] == "numeric"
