"""The infusion session and ledger API, included in /api/v1/ (namespace "api").

Each module owns its paths: sessions (lifecycle, pre-assessment, dose), readings and events
(the flowsheet, including a monitor's batch), discharge, and the ledger.
"""

urlpatterns: list = []
