"""Staff scheduling pages, under /staff/schedule/ (namespace "scheduling")."""

from scheduling.urls import board, courses

app_name = "scheduling"

urlpatterns = [
    *board.staff_urlpatterns,
    *courses.staff_urlpatterns,
]
