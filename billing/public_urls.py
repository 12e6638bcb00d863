"""Patients' billing pages without signing in, at /pay/ (namespace "billing_public")."""

from django.urls import path

from billing.views import public

app_name = "billing_public"

urlpatterns = [
    path("card/<str:token>/", public.card_link_page, name="card-link"),
    path("card/<str:token>/done/", public.card_link_done, name="card-link-done"),
    path("booking/<uuid:hold_id>/done/", public.booking_hold_done, name="booking-done"),
]
