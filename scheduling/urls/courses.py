"""Treatment course pages, under /staff/schedule/courses/ (namespace "scheduling")."""

from django.urls import path

from scheduling.views import courses as views

staff_urlpatterns = [
    path("courses/new/", views.course_new, name="course-new"),
    path("courses/<uuid:course_id>/", views.course_detail, name="course-detail"),
    path("courses/<uuid:course_id>/booster/", views.course_booster, name="course-booster"),
    path(
        "courses/<uuid:course_id>/discontinue/",
        views.course_discontinue_view,
        name="course-discontinue",
    ),
    path("courses/<uuid:course_id>/complete/", views.course_complete_view, name="course-complete"),
]
