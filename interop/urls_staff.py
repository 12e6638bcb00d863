from django.urls import path

from interop import views

app_name = "interop"

urlpatterns = [
    path("", views.export_page, name="export"),
    path("<uuid:job_id>/cancel/", views.export_cancel, name="export-cancel"),
]
