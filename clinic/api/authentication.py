"""API authentication with personal tokens (``clinic.api_tokens``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed

from clinic.api_tokens import api_token_authenticate
from clinic.auth import is_demo_account


class ApiTokenAuthentication(TokenAuthentication):
    """``Authorization: Token <secret>``; a refused token gets 401 with a ``Token`` challenge.

    Only the identity comes from the token. Permissions are the owner's roles as they are
    now, read with the user row on every request: there is no per-token copy of them.
    """

    keyword = "Token"

    def authenticate_credentials(self, key: str) -> tuple[Any, Any]:
        token = api_token_authenticate(key)
        if token is None:
            raise AuthenticationFailed(
                "This token is not valid: it is mistyped, expired or revoked. Make a new one "
                "on your account page (Staff area → Your account)."
            )
        user = token.user
        if not user.is_active:
            raise AuthenticationFailed("This token's account is deactivated.")
        # Demo accounts have a published password; they sign in only while DEBUG is on,
        # and their tokens work only then too.
        if not settings.DEBUG and is_demo_account(user.email):
            raise AuthenticationFailed("Demo accounts cannot use the API on this server.")
        return user, token


class ApiTokenScheme(OpenApiAuthenticationExtension):
    target_class = "clinic.api.authentication.ApiTokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        definition = build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=self.target.keyword
        )
        definition["description"] = (
            "A personal API token made on the staff account page, sent as "
            "`Authorization: Token <token>`. It expires (API_TOKEN_DAYS) and acts with its "
            "owner's current roles."
        )
        return definition
