"""Staff scheduling pages, under /staff/schedule/ (namespace "scheduling")."""

from scheduling.urls import board, courses, settings

app_name = "scheduling"

urlpatterns = [
    *board.staff_urlpatterns,
    *courses.staff_urlpatterns,
    *settings.staff_urlpatterns,
]
