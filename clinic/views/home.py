from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from clinic.permissions import Capability, capability_required, user_can
from clinic.selectors import heartbeat_status, location_today, locations_public
from infusions.alerts import open_alerts_for
from patients.services.safety import safety_panel_for


@capability_required(Capability.USE_STAFF_AREA)
def staff_home(request: HttpRequest) -> HttpResponse:
    locations = []
    if user_can(request.user, Capability.VIEW_LOCATIONS):
        locations = [(location, location_today(location)) for location in locations_public()]
    context = {
        # Nurses and physicians: open safety alerts (patients.services.safety).
        "safety": safety_panel_for(request.user)
        if user_can(request.user, Capability.VIEW_CLINICAL)
        else None,
        # Nurses and physicians: sessions with open vitals alerts where they work.
        "open_alerts": open_alerts_for(request.user)
        if user_can(request.user, Capability.VIEW_CLINICAL)
        else None,
        "locations_today": locations,
        "can_edit_content": user_can(request.user, Capability.EDIT_CONTENT),
        "background": heartbeat_status()
        if user_can(request.user, Capability.VIEW_SYSTEM_STATUS)
        else None,
    }
    return render(request, "clinic/home.html", context)
