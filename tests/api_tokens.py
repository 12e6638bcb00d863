"""A personal API token for a test to send: ``Authorization: Token <key>``."""

from __future__ import annotations

from clinic.api_tokens import api_token_create
from clinic.models import User


def api_key_for(user: User, name: str = "tests") -> str:
    """Make a token for ``user`` (as they would on their account page); return its secret."""
    _token, secret = api_token_create(user=user, name=name)
    return secret
