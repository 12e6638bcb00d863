"""A physician adds a passkey when first signing in, then signs in with it, through
Chromium's virtual authenticator (the WebAuthn domain of the DevTools protocol)."""

from __future__ import annotations

import re
import time

import pytest
from django_otp_webauthn.models import WebAuthnCredential
from playwright.sync_api import Page, expect

from clinic.models import AuditEvent
from conftest import PASSWORD

pytestmark = pytest.mark.browser


def add_virtual_authenticator(page: Page) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )


# A passkey ceremony is two round trips and the authenticator's signature: on a busy CI
# machine it takes longer than expect()'s default 5 seconds.
CEREMONY_MS = 20_000


def enter_password(page: Page, email: str) -> None:
    page.goto("/staff/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def slow_translations(page: Page) -> None:
    """The passkey script's translations arrive a second late, as on a slow connection: a
    button pressed as soon as it shows must still work (its handler needs them)."""

    def late(route):
        time.sleep(1)
        route.continue_()

    page.route("**/second-factor/passkeys/jsi18n/**", late)


def test_a_physician_adds_a_passkey_and_signs_in_with_it(page: Page, phil):
    add_virtual_authenticator(page)
    slow_translations(page)

    # First sign-in: the role needs a second factor, so Chairside asks for one first.
    enter_password(page, phil.email)
    expect(page).to_have_url(re.compile(r"/staff/second-factor/set-up/"))
    expect(page.get_by_text("Your role needs a second factor")).to_be_visible()
    page.get_by_role("link", name="Add a passkey").click()
    page.get_by_role("button", name="Add a passkey").click()

    # The passkey is saved; the recovery codes come with it, shown once.
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible(
        timeout=CEREMONY_MS
    )
    expect(page.get_by_test_id("recovery-codes").get_by_role("listitem")).to_have_count(10)
    page.get_by_role("link", name="I have saved them: continue").click()
    expect(page).to_have_url(re.compile(r"/staff/$"))
    assert WebAuthnCredential.objects.filter(user=phil, confirmed=True).count() == 1
    assert AuditEvent.objects.filter(summary="added a passkey as a second factor").exists()

    page.get_by_role("button", name="Sign out").click()

    # Next sign-in: the password, then the passkey.
    enter_password(page, phil.email)
    expect(page).to_have_url(re.compile(r"/staff/second-factor/verify/"))
    page.get_by_role("button", name="Use your passkey").click()
    expect(page).to_have_url(re.compile(r"/staff/$"), timeout=CEREMONY_MS)
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("Phil Physician")
