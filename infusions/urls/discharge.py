"""Discharge, the printable session summary and the after-care sheet."""

from django.urls import path

from infusions.views import discharge

urlpatterns = [
    path("<uuid:session_id>/discharge/", discharge.discharge_view, name="discharge"),
    path("<uuid:session_id>/summary/", discharge.session_summary, name="session-summary"),
    path("<uuid:session_id>/aftercare/", discharge.session_aftercare, name="session-aftercare"),
]
