from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("staff/patients/", include("patients.urls")),
    path("staff/schedule/", include("scheduling.urls")),
    path("staff/sessions/", include("infusions.urls")),
    path("staff/ledger/", include("infusions.urls.ledger")),
    path("staff/outcomes/", include("outcomes.urls")),
    path("staff/billing/", include("billing.urls")),
    path("hooks/", include("billing.webhook_urls")),
    path("pay/", include("billing.public_urls")),
    path("book/", include("scheduling.urls.public")),
    path("staff/content/", include("content.urls.staff")),
    path("staff/data-export/", include("interop.urls_staff")),
    # django-otp-webauthn's ceremonies (its script reverses the "otp_webauthn" names).
    path("staff/second-factor/passkeys/", include("clinic.urls.passkeys")),
    path("staff/", include(("clinic.urls.staff", "staff"))),
    path("p/", include("patients.urls.public")),
    path("m/", include("clinic.urls.messages")),
    path("admin/", admin.site.urls),
    path("api/", include("clinic.urls.api")),
    path("fhir/", include("interop.urls")),
    path("", include("content.urls")),
]
