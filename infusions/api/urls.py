"""The infusion session and ledger API, included in /api/v1/ (namespace "api").

Each module owns its paths: sessions (lifecycle, pre-assessment, dose), readings (the
flowsheet, alerts and events, including a monitor's batch), discharge, the ledger and the
DEA records.
"""

from infusions.api import dea, discharge, ledger, readings, sessions

urlpatterns = [
    *sessions.urlpatterns,
    *readings.urlpatterns,
    *discharge.urlpatterns,
    *ledger.urlpatterns,
    *dea.urlpatterns,
]
