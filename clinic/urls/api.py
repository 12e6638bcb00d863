from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from billing.api import urlpatterns as billing_api
from billing.packages_api import urlpatterns as billing_packages_api
from clinic.api.locations import LocationDetail, LocationList
from clinic.api.views import MeView
from content.api import urlpatterns as content_api
from infusions.api.urls import urlpatterns as infusions_api
from patients.api.urls import urlpatterns as patients_api
from scheduling import api as scheduling_api

v1 = [
    path("me/", MeView.as_view(), name="me"),
    path("locations/", LocationList.as_view(), name="location-list"),
    path("locations/<uuid:location_id>/", LocationDetail.as_view(), name="location-detail"),
    *patients_api,
    # Scheduling.
    path("slots/", scheduling_api.SlotList.as_view(), name="slot-list"),
    path("appointments/", scheduling_api.AppointmentList.as_view(), name="appointment-list"),
    path(
        "appointments/<uuid:appointment_id>/",
        scheduling_api.AppointmentDetail.as_view(),
        name="appointment-detail",
    ),
    path(
        "appointments/<uuid:appointment_id>/status/",
        scheduling_api.AppointmentStatusChange.as_view(),
        name="appointment-status",
    ),
    path(
        "appointments/<uuid:appointment_id>/cancel/",
        scheduling_api.AppointmentCancel.as_view(),
        name="appointment-cancel",
    ),
    path(
        "appointments/<uuid:appointment_id>/undo/",
        scheduling_api.AppointmentUndo.as_view(),
        name="appointment-undo",
    ),
    path(
        "appointments/<uuid:appointment_id>/reschedule/",
        scheduling_api.AppointmentReschedule.as_view(),
        name="appointment-reschedule",
    ),
    path("courses/", scheduling_api.CourseList.as_view(), name="course-list"),
    path("courses/plan/", scheduling_api.CoursePlanProposal.as_view(), name="course-plan"),
    path("courses/<uuid:course_id>/", scheduling_api.CourseDetail.as_view(), name="course-detail"),
    path(
        "courses/<uuid:course_id>/booster/",
        scheduling_api.CourseBooster.as_view(),
        name="course-booster",
    ),
    path(
        "courses/<uuid:course_id>/complete/",
        scheduling_api.CourseComplete.as_view(),
        name="course-complete",
    ),
    path(
        "courses/<uuid:course_id>/discontinue/",
        scheduling_api.CourseDiscontinue.as_view(),
        name="course-discontinue",
    ),
    path("waitlist/", scheduling_api.WaitlistList.as_view(), name="waitlist-list"),
    path(
        "waitlist/<uuid:entry_id>/",
        scheduling_api.WaitlistDetail.as_view(),
        name="waitlist-detail",
    ),
    *infusions_api,
    *content_api,
    *billing_api,
    *billing_packages_api,
]

urlpatterns = [
    path("v1/", include((v1, "api"), namespace="api")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: the CSP allows no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
