from django.contrib import admin
from django.http import HttpRequest


class ChairsideAdminSite(admin.AdminSite):
    site_header = "Chairside administration"
    site_title = "Chairside admin"
    index_title = "Clinic data"

    def has_permission(self, request: HttpRequest) -> bool:
        from clinic.permissions import Capability, user_can

        return user_can(request.user, Capability.USE_DJANGO_ADMIN)
