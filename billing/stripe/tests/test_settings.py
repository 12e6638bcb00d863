"""The Stripe settings: absent is fine (card payments off); present, they must work together,
or start-up stops naming what to fix (each case imports the settings in a fresh process)."""

from __future__ import annotations

import pytest

from tests.test_settings_env import VALID, import_settings

# Every Stripe variable given (blank counts as unset), so none leaks in from the shell.
NONE = {
    "STRIPE_SECRET_KEY": "",
    "STRIPE_PUBLISHABLE_KEY": "",
    "STRIPE_WEBHOOK_SECRET": "",
    "STRIPE_API_BASE": "",
}
TEST_MODE = {
    "STRIPE_SECRET_KEY": "sk_test_51abc",
    "STRIPE_PUBLISHABLE_KEY": "pk_test_51abc",
    "STRIPE_WEBHOOK_SECRET": "whsec_abc",
}


@pytest.mark.parametrize("stripe", [{}, TEST_MODE], ids=["no keys", "test keys"])
def test_good_stripe_settings_import_cleanly(tmp_path, stripe):
    result = import_settings(tmp_path, **{**VALID, **NONE, **stripe})

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"STRIPE_SECRET_KEY": "pk_test_51abc"}, "STRIPE_SECRET_KEY must be a secret key"),
        ({"STRIPE_WEBHOOK_SECRET": ""}, "STRIPE_WEBHOOK_SECRET is not a webhook signing secret"),
        ({"STRIPE_PUBLISHABLE_KEY": "sk_test_51abc"}, "STRIPE_PUBLISHABLE_KEY must be the"),
        ({"STRIPE_PUBLISHABLE_KEY": "pk_live_51abc"}, "are from different modes"),
        ({"STRIPE_API_BASE": "api.stripe.com"}, "STRIPE_API_BASE must be an http(s) address"),
    ],
)
def test_stripe_settings_that_cannot_work_stop_start_up(tmp_path, values, message):
    result = import_settings(tmp_path, **{**VALID, **NONE, **TEST_MODE, **values})

    assert result.returncode != 0
    assert message in result.stderr
