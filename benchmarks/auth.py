"""The benchmark's staff sign-ins, and signed-in sessions that have passed the second factor.

``benchmarks/seed.py`` creates one account per role (``BENCH_STAFF``) with the password
``BENCH_PASSWORD``. The admin, nurse and physician have an authenticator app (TOTP) whose
key is ``BENCH_TOTP_KEY``, so a real sign-in works too (``current_code``); the front desk's
role needs no second factor by default, and they have none.

In a process where Django is set up against a seeded database::

    from benchmarks.auth import authenticated_client, session_cookie
    client = authenticated_client("nurse")     # django.test.Client, second factor passed
    client.get("/staff/", secure=True)          # DEBUG=0 redirects plain http to https
    cookie = session_cookie("admin")            # the sessionid value, for another client

Both sign in the way a person's session ends up after entering their code: Django's
``login`` (so the audit log and the staff-session list see it), then the session is marked
as verified with their device, as ``clinic.second_factor.session_mark_verified`` does.
"""

from __future__ import annotations

from typing import Any

BENCH_EMAIL_DOMAIN = "bench.chairside.test"
BENCH_PASSWORD = "bench-password-2026"  # noqa: S105 (a known password for benchmark logins)
# The authenticator app's key (hex, 20 bytes), the same for every benchmark account.
BENCH_TOTP_KEY = "3132333435363738393031323334353637383930"

# role key: (mailbox, full name, roles)
BENCH_STAFF: dict[str, tuple[str, str, list[str]]] = {
    "admin": ("admin", "Bench Clinic Admin", ["clinic_admin"]),
    "frontdesk": ("frontdesk", "Bench Front Desk", ["front_desk"]),
    "nurse": ("nurse", "Bench Nurse", ["nurse"]),
    "physician": ("physician", "Bench Physician", ["physician"]),
}


def bench_email(role: str) -> str:
    return f"{BENCH_STAFF[role][0]}@{BENCH_EMAIL_DOMAIN}"


def bench_user(role: str) -> Any:
    from clinic.models import User

    return User.objects.get(email=bench_email(role))


def pass_second_factor(client: Any, user: Any) -> None:
    """Mark ``client``'s signed-in session as having passed the second factor."""
    from django_otp import DEVICE_ID_SESSION_KEY

    from clinic import second_factor

    device = second_factor.totp_device_of(user)
    session = client.session
    if device is not None:
        session.pop(second_factor.NOT_REQUIRED_KEY, None)
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    elif second_factor.second_factor_required_for(user):
        raise RuntimeError(f"{user.email} needs a second factor but has none: seed again.")
    else:
        session[second_factor.NOT_REQUIRED_KEY] = True
    session.save()


def authenticated_client(role: str = "admin", **client_options: Any) -> Any:
    """A ``django.test.Client`` signed in as the benchmark's ``role`` account ("admin",
    "frontdesk", "nurse", "physician"), second factor passed."""
    from django.test import Client

    user = bench_user(role)
    client = Client(**client_options)
    client.force_login(user)
    pass_second_factor(client, user)
    return client


def session_cookie(role: str = "admin") -> str:
    """The ``sessionid`` cookie value of a new signed-in, verified session of ``role``."""
    from django.conf import settings

    client = authenticated_client(role)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def current_code(role: str) -> str:
    """The 6-digit code ``role``'s authenticator app shows now (for a real sign-in through
    /staff/login/ and /staff/second-factor/verify/). A device accepts each code once."""
    from django_otp.oath import TOTP

    from clinic import second_factor

    device = second_factor.totp_device_of(bench_user(role))
    if device is None:
        raise RuntimeError(f"The {role} account has no authenticator app.")
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return str(totp.token()).zfill(device.digits)
