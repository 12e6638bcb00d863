"""Django admin for scheduling records: view-only, and without patients.

Bookings, courses and the waitlist change through the staff area's services, which check
the rules and write the audit log; an admin form would skip both. Patient fields and
free-text reasons are left out because a page read here is not in the audit log (see
patients/admin.py): clinic admins see the shape of the schedule, not who is on it.
"""

from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.db.models.expressions import RawSQL
from django.http import HttpRequest

from clinic.admin import KeptChoicesFilter, ViewOnlyAdmin
from clinic.admin_rows import KeptPage
from clinic.fragments import RowsOf, rows_counts, rows_version_query, version_of
from clinic.models import Chair, Location, User
from scheduling.models import (
    Appointment,
    AppointmentType,
    StaffShift,
    TreatmentCourse,
    WaitlistEntry,
)


@admin.register(AppointmentType)
class AppointmentTypeAdmin(ViewOnlyAdmin):
    list_display = [
        "name",
        "kind",
        "duration_minutes",
        "recovery_minutes",
        "needs_chair",
        "clinician",
        "bookable_online",
    ]


@admin.register(StaffShift)
class StaffShiftAdmin(ViewOnlyAdmin):
    list_display = ["staff", "location", "weekday", "starts_at", "ends_at"]
    list_filter = ["location", "weekday"]
    list_select_related = ["staff", "location"]


@admin.register(Appointment)
class AppointmentAdmin(ViewOnlyAdmin):
    list_display = [
        "public_id",
        "starts_at",
        "location",
        "appointment_type",
        "chair",
        "clinician",
        "status",
        "source",
    ]
    # "Today", "Past 7 days", "This month": ranges on starts_at. A date hierarchy would read
    # every appointment's date on each page to offer the years and months (0.3 s at
    # 200,000 appointments). The list's order (starts_at, id) is appointment_start_id_idx.
    list_filter = [
        ("starts_at", admin.DateFieldListFilter),
        "status",
        "source",
        ("location", KeptChoicesFilter),
        ("appointment_type", KeptChoicesFilter),
    ]
    # The location and type are joined; the chair (with its location) and the clinician,
    # which may be missing, are read by one query each for the page's rows
    # (AppointmentChangeList): outer joins to them cost PostgreSQL's planner more (~5 ms a
    # page at chain scale, weighing every order of joining six tables) than the two queries.
    list_select_related = ["location", "appointment_type"]
    change_list_template = "admin/scheduling/appointment/change_list.html"
    fields = [
        "public_id",
        "location",
        "appointment_type",
        "chair",
        "clinician",
        "starts_at",
        "ends_at",
        "blocks_until",
        "status",
        "source",
        "created_by",
        "created_at",
        "updated_at",
    ]

    def get_changelist(self, request: HttpRequest, **kwargs: object) -> type[ChangeList]:
        return AppointmentChangeList


_CHAIRS = Chair.objects.select_related("location")


class AppointmentChangeList(ChangeList):
    """The list reads only what it shows (the columns, and what the location's, type's,
    chair's and clinician's names are made of): a page of 100 appointments read whole is
    five times the columns to fetch and set. The chair (with its location) and clinician
    are read by one query each, for the page's rows. A column added to list_display needs
    its field here, or each row reads it in a query of its own (the query-count test
    fails)."""

    def get_queryset(self, request: HttpRequest, exclude_parameters: object = None) -> QuerySet:
        return (
            super()
            .get_queryset(request, exclude_parameters)
            .only(
                "public_id",
                "starts_at",
                "status",
                "source",
                "location__name",
                "appointment_type__name",
                "chair_id",
                "clinician_id",
            )
            .prefetch_related(
                Prefetch("chair", queryset=_CHAIRS.only("name", "location__name")),
                Prefetch("clinician", queryset=User.objects.only("full_name", "email")),
            )
        )

    def get_results(self, request: HttpRequest) -> None:
        """Django's, and a version of what the page's table draws (``kept_rows_version``,
        for ``{% view_only_result_list %}`` to serve it kept), in one query: the page's
        appointments and their clinicians, row by row, and the whole of the locations,
        types and chairs whose names it draws (small tables: a few hundred rows at most,
        where joining them to the page costs PostgreSQL's planner more). The rows
        themselves are read only if the table is drawn. A column added to list_display
        that draws another table's rows needs that table here too."""
        super().get_results(request)
        version = version_of(*_page_version_query(self.result_list))
        self.kept_rows_version = version
        self.result_list = KeptPage(self.result_list, rows_counts(version)[-1])


def _page_version_query(rows: QuerySet) -> tuple[str, list]:
    """``rows_version_query`` for the locations, types and chairs, and the page's
    appointments with their clinicians (joined: a clinician's name is drawn, and the
    users table is too large to version whole). Each appointment's id and stamp are read
    by the page's own query (its index, in order), where matching the page's ids against
    the table would look each one up again (~1 ms of PostgreSQL's CPU a page)."""
    tables, params = rows_version_query(RowsOf(Location), RowsOf(AppointmentType), RowsOf(Chair))
    quote = connection.ops.quote_name
    appointments, users = quote(Appointment._meta.db_table), quote(User._meta.db_table)
    # Django's SQL names the base table by its own name.
    stamp = RawSQL(f"{appointments}.xmin::text || ':' || {appointments}.ctid::text", [])  # noqa: S611
    page, page_params = (
        rows.annotate(_row_stamp=stamp)
        .values_list("pk", "_row_stamp", "clinician_id")
        .query.sql_with_params()
    )
    # Names from the models, quoted; the page's SQL Django's own, with its parameters.
    sql = (
        f"{tables} || '/' || (SELECT count(*)::text || '.' || coalesce(md5(string_agg("  # noqa: S608
        "concat_ws(':', v.id, v.stamp, u.id, u.xmin, u.ctid), ',' ORDER BY v.id)), '') "
        f"FROM ({page}) v (id, stamp, clinician_id) "
        f"LEFT JOIN {users} u ON u.id = v.clinician_id)"
    )
    return sql, [*params, *page_params]


@admin.register(TreatmentCourse)
class TreatmentCourseAdmin(ViewOnlyAdmin):
    list_display = ["public_id", "location", "state", "planned_infusions", "created_at"]
    list_filter = ["state", "location"]
    list_select_related = ["location"]
    fields = [
        "public_id",
        "location",
        "state",
        "planned_infusions",
        "window_days",
        "min_gap_hours",
        "created_by",
        "created_at",
    ]


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(ViewOnlyAdmin):
    list_display = [
        "public_id",
        "location",
        "appointment_type",
        "earliest_date",
        "latest_date",
        "state",
        "created_at",
    ]
    list_filter = ["state", "location", "appointment_type"]
    list_select_related = ["location", "appointment_type"]
    fields = [
        "public_id",
        "location",
        "appointment_type",
        "earliest_date",
        "latest_date",
        "preferred_weekdays",
        "preferred_after",
        "preferred_before",
        "state",
        "created_by",
        "created_at",
    ]
