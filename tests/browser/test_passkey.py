"""A physician adds a passkey when first signing in, then signs in with it, through
Chromium's virtual authenticator (the WebAuthn domain of the DevTools protocol)."""

from __future__ import annotations

import re

import pytest
from django_otp_webauthn.models import WebAuthnCredential
from playwright.sync_api import Page, expect

from clinic.models import AuditEvent
from conftest import PASSWORD

pytestmark = pytest.mark.browser


def press_when_ready(page: Page, name: str) -> None:
    """Press the passkey button once django-otp-webauthn's script has wired it: the script
    puts the button on the page first and listens to it a moment later, so a press in
    between (a fast test on a busy machine) would do nothing."""
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name=name).click()


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


def test_a_physician_adds_a_passkey_and_signs_in_with_it(page: Page, phil):
    add_virtual_authenticator(page)

    # First sign-in: the role needs a second factor, so Chairside asks for one first.
    enter_password(page, phil.email)
    expect(page).to_have_url(re.compile(r"/staff/second-factor/set-up/"))
    expect(page.get_by_text("Your role needs a second factor")).to_be_visible()
    page.get_by_role("link", name="Add a passkey").click()
    press_when_ready(page, "Add a passkey")

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
    press_when_ready(page, "Use your passkey")
    expect(page).to_have_url(re.compile(r"/staff/$"), timeout=CEREMONY_MS)
    expect(page.get_by_test_id("signed-in-as")).to_contain_text("Phil Physician")
