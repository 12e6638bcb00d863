"""The controlled-substance ledger's pages, under /staff/ledger/ (namespace "ledger").

There is no delete or edit route, on purpose: ledger records are kept (at least two years)
and corrected by new entries.
"""

from django.urls import path

from infusions.views import dea, inspection, ledger

app_name = "ledger"

urlpatterns = [
    path("", ledger.lot_list, name="lot-list"),
    path("receive/", ledger.lot_receive_page, name="lot-receive"),
    path("export/", ledger.ledger_export, name="export"),
    path("inspection/", inspection.inspection_page, name="inspection"),
    path("registrations/", dea.registrations_page, name="registrations"),
    path("inventories/", dea.inventories_page, name="inventories"),
    path("incidents/", dea.incidents_page, name="incidents"),
    path("incidents/<uuid:incident_id>/", dea.incident_page, name="incident"),
    path("inventories/<uuid:inventory_id>/", dea.inventory_page, name="inventory"),
    path("inventories/take/<uuid:location_id>/", dea.inventory_take_page, name="inventory-take"),
    path("lots/<uuid:lot_id>/", ledger.lot_detail, name="lot"),
    path("lots/<uuid:lot_id>/waste/", ledger.lot_waste, name="lot-waste"),
    path("lots/<uuid:lot_id>/adjustments/", ledger.lot_adjust, name="lot-adjust"),
    path("lots/<uuid:lot_id>/counts/", ledger.lot_count, name="lot-count"),
    path("lots/<uuid:lot_id>/destroy/", dea.lot_destroy_page, name="lot-destroy"),
]
