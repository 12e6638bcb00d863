"""The second factor after the password, under /staff/second-factor/ ("staff" namespace).

Everything under this prefix is open to a session that has not passed its second factor yet
(clinic.middleware.SecondFactorMiddleware); the set-up views refuse whoever must verify.
"""

from django.urls import path

from clinic.views import second_factor

urlpatterns = [
    path("verify/", second_factor.verify, name="second-factor-verify"),
    path("set-up/", second_factor.setup, name="second-factor-setup"),
    path("set-up/app/", second_factor.totp_setup, name="second-factor-totp"),
    path("set-up/passkey/", second_factor.passkey_setup, name="second-factor-passkey"),
    path(
        "set-up/passkey/added/",
        second_factor.passkey_added,
        name="second-factor-passkey-added",
    ),
    path("recovery-codes/", second_factor.recovery_codes, name="second-factor-recovery-codes"),
]
