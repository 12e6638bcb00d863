from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("staff/", include(("clinic.urls.staff", "staff"))),
    path("admin/", admin.site.urls),
    path("api/", include("clinic.urls.api")),
    path("", include("content.urls")),
]
