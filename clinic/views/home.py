from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from clinic.contributions import staff_home_page
from clinic.permissions import Capability, capability_required, user_can
from clinic.selectors import heartbeat_status, locations_today


@capability_required(Capability.USE_STAFF_AREA)
def staff_home(request: HttpRequest) -> HttpResponse:
    context = {
        "locations_today": locations_today()
        if user_can(request.user, Capability.VIEW_LOCATIONS)
        else [],
        "can_edit_content": user_can(request.user, Capability.EDIT_CONTENT),
        "background": heartbeat_status()
        if user_can(request.user, Capability.VIEW_SYSTEM_STATUS)
        else None,
    }
    # The clinicians' panels the domain apps add (clinic.contributions.staff_home_page).
    staff_home_page.add_to(context, request.user)
    return render(request, "clinic/home.html", context)
