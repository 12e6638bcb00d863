from django.contrib import admin

from clinic.models import AuditEvent, Chair, Closure, Heartbeat, Location, OpeningHours, User


@admin.register(User)
class UserAdmin(admin.ModelAdmin):
    list_display = ["full_name", "email", "roles", "is_active"]
    list_filter = ["is_active"]
    search_fields = ["full_name", "email"]
    fields = ["email", "full_name", "roles", "is_active", "last_login", "date_joined"]
    readonly_fields = ["last_login", "date_joined"]

    # Accounts are managed in the staff area, where every change is checked and audited.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class OpeningHoursInline(admin.TabularInline):
    model = OpeningHours
    extra = 0


class ClosureInline(admin.TabularInline):
    model = Closure
    extra = 0


class ChairInline(admin.TabularInline):
    model = Chair
    extra = 0


@admin.register(Location)
class LocationAdmin(admin.ModelAdmin):
    list_display = ["name", "city", "time_zone", "is_active"]
    inlines = [OpeningHoursInline, ClosureInline, ChairInline]


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "actor", "action", "object_type", "object_id", "ip_address"]
    list_filter = ["action", "object_type"]
    list_select_related = ["actor"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


admin.site.register(Heartbeat)
