from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from clinic.permissions import Capability, user_can


class IsActiveStaff(BasePermission):
    """The default for every API view: a signed-in staff member whose roles allow API use."""

    message = "Sign in with a staff account, or send a valid API token, to use the API."

    def has_permission(self, request: Request, view: Any) -> bool:
        return user_can(request.user, Capability.USE_API)


def capability_permission(capability: Capability) -> type[BasePermission]:
    """A permission class granting access to users whose roles hold ``capability``."""

    class HasCapability(IsActiveStaff):
        message = "Your role does not allow this. Ask a clinic admin if you need it."

        def has_permission(self, request: Request, view: Any) -> bool:
            return super().has_permission(request, view) and user_can(request.user, capability)

    HasCapability.__name__ = f"Has{capability.name.title().replace('_', '')}"
    return HasCapability
