"""Staff accounts, under /staff/accounts/ in the "staff" namespace.

The fixed paths ("me/", "new/", "set-password/", "second-factor-policy/") come before the
per-account ones; the per-account ones only match UUIDs anyway, so neither can shadow the
other.
"""

from django.urls import path

from clinic.views import accounts
from clinic.views import second_factor as second_factor_views

urlpatterns = [
    path("", accounts.account_list, name="account-list"),
    path("new/", accounts.account_create, name="account-create"),
    path("me/", accounts.my_account, name="my-account"),
    path("me/password/", accounts.my_password, name="my-password"),
    path("me/tokens/new/", accounts.my_token_create, name="my-token-create"),
    path("me/tokens/<uuid:token_id>/revoke/", accounts.my_token_revoke, name="my-token-revoke"),
    path(
        "me/sessions/<uuid:session_id>/revoke/",
        accounts.my_session_revoke,
        name="my-session-revoke",
    ),
    path(
        "me/sessions/revoke-others/",
        accounts.my_sessions_revoke_others,
        name="my-sessions-revoke-others",
    ),
    path("me/second-factor/", second_factor_views.mine, name="my-second-factor"),
    path(
        "me/second-factor/app/remove/",
        second_factor_views.my_totp_remove,
        name="my-totp-remove",
    ),
    path(
        "me/second-factor/passkeys/<slug:passkey_ref>/remove/",
        second_factor_views.my_passkey_remove,
        name="my-passkey-remove",
    ),
    path(
        "me/second-factor/recovery-codes/",
        second_factor_views.my_recovery_codes_create,
        name="my-recovery-codes-create",
    ),
    path("second-factor-policy/", second_factor_views.policy, name="second-factor-policy"),
    path(
        "set-password/<uuid:public_id>/<str:token>/",
        accounts.set_password,
        name="set-password",
    ),
    path("<uuid:public_id>/", accounts.account_edit, name="account-edit"),
    path("<uuid:public_id>/deactivate/", accounts.account_deactivate, name="account-deactivate"),
    path("<uuid:public_id>/reactivate/", accounts.account_reactivate, name="account-reactivate"),
    path("<uuid:public_id>/unlock/", accounts.account_unlock, name="account-unlock"),
    path(
        "<uuid:public_id>/tokens/<uuid:token_id>/revoke/",
        accounts.account_token_revoke,
        name="account-token-revoke",
    ),
    path(
        "<uuid:public_id>/sessions/<uuid:session_id>/revoke/",
        accounts.account_session_revoke,
        name="account-session-revoke",
    ),
    path(
        "<uuid:public_id>/sessions/revoke-all/",
        accounts.account_sessions_revoke_all,
        name="account-sessions-revoke-all",
    ),
    path(
        "<uuid:public_id>/second-factor-reset/",
        second_factor_views.account_reset,
        name="account-second-factor-reset",
    ),
    path(
        "<uuid:public_id>/password-link/",
        accounts.account_password_link,
        name="account-password-link",
    ),
]
