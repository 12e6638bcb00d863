"""Signing a member of staff in through the real login page, second factor included."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from clinic import second_factor
from clinic.models import User
from conftest import PASSWORD
from tests.second_factor import current_code, enrol_authenticator


def sign_in(page: Page, email: str, password: str = PASSWORD) -> None:
    """Email and password, then the code from their authenticator app when they have one or
    their role needs one (it is set up for them first, as they would have done)."""
    user = User.objects.get(email=email)
    device = second_factor.totp_device_of(user)
    if device is None and second_factor.second_factor_required_for(user):
        device = enrol_authenticator(user)
    page.goto("/staff/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    if device is not None:
        expect(page).to_have_url(re.compile(r"/staff/second-factor/verify/"))
        page.get_by_label("6-digit code from your authenticator app").fill(current_code(device))
        page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/staff/$"))
