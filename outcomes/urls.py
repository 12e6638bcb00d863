"""The clinic's outcomes dashboard, under /staff/outcomes/ (namespace "outcomes").

Its own prefix rather than /staff/patients/outcomes/, so the "Patients" and "Outcomes"
menu entries are not both shown as the current page.
"""

from django.urls import path

from outcomes import views as outcomes

app_name = "outcomes"

urlpatterns = [
    path("", outcomes.outcomes_dashboard, name="dashboard"),
    # Everyone the dashboard lists the first few of, a page at a time.
    path("worsened/", outcomes.flagged_list, {"flag": "worsened"}, name="worsened"),
    path("overdue/", outcomes.flagged_list, {"flag": "overdue"}, name="overdue"),
]
