"""The pre-infusion checks and the dose parts of the session screen (namespace "infusions")."""

from django.urls import path

from infusions.views import preassessment

urlpatterns = [
    path(
        "<uuid:session_id>/pre-assessment/",
        preassessment.pre_assessment_save,
        name="pre-assessment",
    ),
    path(
        "<uuid:session_id>/pre-assessment/vitals/",
        preassessment.pre_assessment_vitals_save,
        name="pre-assessment-vitals",
    ),
    path(
        "<uuid:session_id>/pre-assessment/acknowledge/",
        preassessment.pre_assessment_acknowledge,
        name="pre-assessment-acknowledge",
    ),
    path("<uuid:session_id>/dose/order/", preassessment.dose_order, name="dose-order"),
    path("<uuid:session_id>/dose/calculate/", preassessment.dose_calculate, name="dose-calculate"),
    path("<uuid:session_id>/dose/administer/", preassessment.dose_give, name="dose-administer"),
    path("<uuid:session_id>/dose/correct/", preassessment.dose_correct_view, name="dose-correct"),
]
