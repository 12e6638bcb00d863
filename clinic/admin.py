"""Django admin for clinic admins: a read-only window onto clinic records.

Every change to clinic records goes through the staff area, where services validate it
and write the audit log; an admin form would skip both. So these are view-only.
"""

from typing import Any

from django.apps import apps
from django.contrib import admin
from django.db.models import Field, QuerySet
from django.http import HttpRequest
from django.utils.translation import get_language
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic.admin_site import kept_here
from clinic.fragments import RowsOf, fragment_key, rows_version
from clinic.models import AuditEvent, Chair, Closure, Heartbeat, Location, OpeningHours, User
from clinic.paging import EstimatedCountPaginator


class ViewOnlyAdmin(admin.ModelAdmin):
    # A filtered list counts its matches; it does not count the whole table a second time
    # for "N total" (200,000 appointments at a clinic chain's size).
    show_full_result_count = False
    # Nor does a long list count its matches exactly: PostgreSQL's estimate above 10,000.
    paginator = EstimatedCountPaginator

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


class KeptChoicesFilter(admin.RelatedFieldListFilter):
    """Django's filter by a related row, with the rows it offers kept in the process
    (``kept_here``) under a version of the related table (one query that reads no row into
    Python, where Django's reads every row as a model on every page: ~2 ms for a dozen
    locations). For a small table whose rows' names (``str()``) read no other row, and a
    field without ``limit_choices_to``."""

    def field_choices(
        self, field: Field, request: HttpRequest, model_admin: admin.ModelAdmin
    ) -> list[tuple[Any, str]]:
        model = field.related_model
        ordering = tuple(self.field_admin_ordering(field, request, model_admin))
        key = fragment_key(
            f"admin-filter-choices:{model._meta.label_lower}",
            "1",
            (rows_version(RowsOf(model)), ordering, get_language()),
        )
        return kept_here(
            key,
            lambda: admin.RelatedFieldListFilter.field_choices(self, field, request, model_admin),
        )


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


class RecordTypeFilter(admin.SimpleListFilter):
    """The kinds of record an event is about, from the installed models: Django's default
    filter would read every audit event (``SELECT DISTINCT object_type``) on each page."""

    title = "record type"
    parameter_name = "object_type"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple]:
        labels = sorted(model._meta.label_lower for model in apps.get_models())
        return [(label, label) for label in labels]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value():
            return queryset.filter(object_type=self.value())
        return queryset


@admin.register(AuditEvent)
class AuditEventAdmin(ViewOnlyAdmin):
    list_display = ["occurred_at", "actor", "action", "object_type", "object_id", "ip_address"]
    list_filter = ["action", RecordTypeFilter]
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
