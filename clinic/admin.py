"""Django admin for clinic admins: a read-only window onto clinic records.

Every change to clinic records goes through the staff area, where services validate it
and write the audit log; an admin form would skip both. So these are view-only.
"""

from django.contrib import admin
from django.http import HttpRequest
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.models import AuditEvent, Chair, Closure, Heartbeat, Location, OpeningHours, User


class ViewOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class ViewOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(User)
class UserAdmin(ViewOnlyAdmin):
    list_display = ["full_name", "email", "roles", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["full_name", "email"]
    fields = ["email", "full_name", "roles", "is_active", "last_login", "date_joined"]


class OpeningHoursInline(ViewOnlyInline):
    model = OpeningHours


class ClosureInline(ViewOnlyInline):
    model = Closure


class ChairInline(ViewOnlyInline):
    model = Chair


@admin.register(Location)
class LocationAdmin(ViewOnlyAdmin):
    list_display = ["name", "city", "time_zone", "is_active"]
    search_fields = ["name", "city"]
    inlines = [OpeningHoursInline, ClosureInline, ChairInline]


@admin.register(AuditEvent)
class AuditEventAdmin(ViewOnlyAdmin):
    list_display = ["occurred_at", "actor", "action", "object_type", "object_id", "ip_address"]
    list_filter = ["action", "object_type"]
    list_select_related = ["actor"]


@admin.register(Heartbeat)
class HeartbeatAdmin(ViewOnlyAdmin):
    list_display = ["name", "seen_at"]


# Second factors are set up, removed and reset on the staff account pages, which audit each
# change (clinic.second_factor). django-otp's own admin pages would bypass that audit and show
# an authenticator's secret as a QR code, so they are not offered.
for _device_model in (TOTPDevice, StaticDevice):
    if admin.site.is_registered(_device_model):
        admin.site.unregister(_device_model)
