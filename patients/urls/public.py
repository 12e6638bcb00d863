"""Pages patients reach through the links we send them, under /p/ (namespace "patient_links")."""

from django.urls import path

from patients.urls import consent, intake
from patients.views import questionnaire_link

app_name = "patient_links"

urlpatterns = [
    *intake.public_urlpatterns,
    *consent.public_urlpatterns,
    # "done/" first: it is not a token.
    path(
        "questionnaire/done/",
        questionnaire_link.questionnaire_done,
        name="questionnaire-done",
    ),
    path(
        "questionnaire/<str:token>/",
        questionnaire_link.questionnaire_by_link,
        name="questionnaire",
    ),
    path("check-in/done/", questionnaire_link.checkin_done, name="check-in-done"),
    path("check-in/<str:token>/", questionnaire_link.checkin_by_link, name="check-in"),
]
