"""The audit log page: read-only, for those whose role lets them read it."""

from __future__ import annotations

from django.conf import settings
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from clinic.forms import AuditFilterForm
from clinic.permissions import Capability, capability_required
from clinic.selectors import audit_events_visible_to

EVENTS_PER_PAGE = 50


@require_GET  # read-only: nothing here changes an entry
@capability_required(Capability.VIEW_AUDIT_LOG)
def audit_log(request: HttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    form.is_valid()  # an invalid filter is shown with its error and ignored
    filters = form.cleaned_data
    events = audit_events_visible_to(
        request.user,
        action=filters.get("action", ""),
        actor=filters.get("actor"),
        occurred_from=filters.get("occurred_from"),
        occurred_to=filters.get("occurred_to"),
        object_id=filters.get("object_id", ""),
    )
    page = Paginator(events, EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "form": form,
        "page": page,
        "filtered": any(value not in (None, "") for value in filters.values()),
        "clinic_time_zone": settings.TIME_ZONE,
    }
    return render(request, "clinic/audit/log.html", context)
