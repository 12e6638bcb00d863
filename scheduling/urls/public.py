"""Online consultation booking, under /book/ (namespace "booking")."""

from scheduling.urls import booking

app_name = "booking"

urlpatterns = booking.public_urlpatterns
