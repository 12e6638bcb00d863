from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend


class EmailBackend(ModelBackend):
    """Email and password sign-in; demo accounts work only while DEBUG is on."""

    def user_can_authenticate(self, user: Any) -> bool:
        if not super().user_can_authenticate(user):
            return False
        return settings.DEBUG or not is_demo_account(user.email)


def is_demo_account(email: str) -> bool:
    return email.lower().endswith("@" + settings.DEMO_EMAIL_DOMAIN)
