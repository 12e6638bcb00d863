"""Second-factor helpers for tests: an authenticator app for a persona, its current code,
and sessions that have passed the second factor as a real sign-in would.

The root conftest makes ``Client.force_login`` call ``pass_second_factor``, so tests that
sign in that way get the session a person gets after entering their code, while
enforcement stays on for everything else (signing in through the login page, other
clients, browsers).
"""

from __future__ import annotations

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic import second_factor
from clinic.models import User


def enrol_authenticator(user: User) -> TOTPDevice:
    """``user``'s authenticator app, set up (confirmed) if they had none."""
    device = second_factor.totp_device_of(user)
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=second_factor.TOTP_NAME, confirmed=True)
    return device


def current_code(device: TOTPDevice, *, fresh: bool = True) -> str:
    """The code the person's app shows now. ``fresh`` forgets the last code the device
    accepted, so a test may sign the same person in twice within one 30-second step (a real
    app would make them wait for the next code)."""
    if fresh:
        TOTPDevice.objects.filter(pk=device.pk).update(last_t=-1)
        device.last_t = -1
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return str(totp.token()).zfill(device.digits)


def pass_second_factor(client: Client, user: User) -> None:
    """Make ``client``'s signed-in session one that has passed the second factor.

    Someone whose role requires one gets an authenticator app first, as they would have
    had to set one up; someone who needs none and has none is marked as such.
    """
    if not user.is_active:
        return
    device = second_factor.totp_device_of(user)
    if device is None and second_factor.second_factor_required_for(user):
        device = enrol_authenticator(user)
    session = client.session
    if device is not None:
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    else:
        session[second_factor.NOT_REQUIRED_KEY] = True
    session.save()


def enter_code(client: Client, user: User) -> None:
    """After the password on the login page: the code from the person's app (which is set
    up now if they had none), as they would type it."""
    device = enrol_authenticator(user)
    response = client.post("/staff/second-factor/verify/", {"code": current_code(device)})
    assert response.status_code == 302, "the second factor was refused"
