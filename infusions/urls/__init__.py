"""Staff pages for infusion sessions, under /staff/sessions/ (namespace "infusions").

Each part of the session screen has its own module; the ledger's pages are in
``infusions.urls.ledger`` under /staff/ledger/.
"""

from infusions.urls import discharge, flowsheet, preassessment, rems, session

app_name = "infusions"

urlpatterns = [
    *session.urlpatterns,
    *preassessment.urlpatterns,
    *flowsheet.urlpatterns,
    *discharge.urlpatterns,
    *rems.urlpatterns,
]
