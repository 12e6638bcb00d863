"""Staff pages for locations: details, opening hours, closures and chairs.

Everyone with VIEW_LOCATIONS may read them; changes need MANAGE_LOCATIONS (clinic
admins). The rules live in ``clinic.services``; these views pass input to them and show
their ValidationError messages next to the fields they concern.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from clinic import services
from clinic.forms import (
    ChairForm,
    ClosureForm,
    LocationForm,
    OpeningHoursForm,
    SearchForm,
    show_service_errors,
)
from clinic.models import Location
from clinic.permissions import Capability, capability_required, user_can
from clinic.selectors import (
    chair_for,
    closure_for,
    location_for,
    location_overview,
    location_summaries,
    location_today,
)

PAGE_SIZE = 25
VIEW = Capability.VIEW_LOCATIONS
MANAGE = Capability.MANAGE_LOCATIONS
T = TypeVar("T")


FORM_TEMPLATE = "clinic/locations/form.html"
CONFIRM_TEMPLATE = "clinic/locations/confirm.html"


def _detail_url(location: Location) -> str:
    return reverse("staff:location-detail", args=[location.public_id])


def _form_page(
    request: HttpRequest,
    form: Form,
    *,
    save: Callable[[], T],
    saved: Callable[[T], tuple[str, str]],
    context: dict[str, Any],
    template: str = FORM_TEMPLATE,
    field_for: Callable[[str], str] | None = None,
) -> HttpResponse:
    """The page of a form that changes something: on a valid POST, ``save()`` (the service
    call); when it succeeds, ``saved(result)`` gives the message to show and the page to go
    to; its ValidationError is shown next to the fields it names. Otherwise the form (again)."""
    if request.method == "POST" and form.is_valid():
        try:
            result = save()
        except ValidationError as exc:
            show_service_errors(form, exc, field_for=field_for)
        else:
            message, next_url = saved(result)
            messages.success(request, message)
            return redirect(next_url)
    return render(request, template, {"form": form, **context})


def _confirm_page(
    request: HttpRequest,
    *,
    act: Callable[[], object],
    done: str,
    location: Location,
    **context: Any,
) -> HttpResponse:
    """A page asking to confirm ``act``; its POST does it, says ``done`` and goes back to the
    location's page."""
    if request.method == "POST":
        act()
        messages.success(request, done)
        return redirect(_detail_url(location))
    return render(
        request,
        CONFIRM_TEMPLATE,
        {"location": location, **context, "cancel_url": _detail_url(location)},
    )


# --- Locations ---------------------------------------------------------------------------


@capability_required(VIEW)
def location_list(request: HttpRequest) -> HttpResponse:
    search = SearchForm(request.GET).search()
    page = Paginator(location_summaries(request.user, search=search), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {
        "page": page,
        "rows": [(location, location_today(location)) for location in page.object_list],
        "search": search,
        "can_manage": user_can(request.user, MANAGE),
    }
    return render(request, "clinic/locations/list.html", context)


@capability_required(MANAGE)
def location_create(request: HttpRequest) -> HttpResponse:
    form = LocationForm(request.POST or None)
    return _form_page(
        request,
        form,
        save=lambda: services.location_create(
            actor=request.user, request=request, **form.cleaned_data
        ),
        saved=lambda location: (
            f"{location.name} added. Next, set its opening hours and add its chairs.",
            _detail_url(location),
        ),
        context={
            "title": "Add a location",
            "submit_label": "Add location",
            "cancel_url": reverse("staff:location-list"),
        },
    )


@capability_required(VIEW)
def location_detail(request: HttpRequest, location_id: uuid.UUID) -> HttpResponse:
    location = location_for(request.user, location_id)
    context = {
        "overview": location_overview(location),
        "location": location,
        "can_manage": user_can(request.user, MANAGE),
    }
    return render(request, "clinic/locations/detail.html", context)


@capability_required(MANAGE)
def location_edit(request: HttpRequest, location_id: uuid.UUID) -> HttpResponse:
    location = location_for(request.user, location_id, to_manage=True)
    form = LocationForm(request.POST or None, initial=LocationForm.initial_for(location))
    return _form_page(
        request,
        form,
        save=lambda: services.location_update(
            actor=request.user, location=location, request=request, **form.cleaned_data
        ),
        saved=lambda saved: (f"{saved.name} saved.", _detail_url(saved)),
        context={
            "location": location,
            "title": f"Edit {location.name}",
            "submit_label": "Save changes",
            "cancel_url": _detail_url(location),
        },
    )


@capability_required(MANAGE)
def location_deactivate(request: HttpRequest, location_id: uuid.UUID) -> HttpResponse:
    location = location_for(request.user, location_id, to_manage=True)
    return _confirm_page(
        request,
        act=lambda: services.location_set_active(
            actor=request.user, location=location, is_active=False, request=request
        ),
        done=f"{location.name} is deactivated. You can reactivate it from its page.",
        location=location,
        title=f"Deactivate {location.name}?",
        explanation=(
            "Only clinic admins will see it, and nobody can book it. Its chairs, hours and "
            "closures are kept, and you can reactivate it at any time."
        ),
        submit_label="Deactivate location",
    )


@capability_required(MANAGE)
@require_POST
def location_reactivate(request: HttpRequest, location_id: uuid.UUID) -> HttpResponse:
    location = location_for(request.user, location_id, to_manage=True)
    services.location_set_active(
        actor=request.user, location=location, is_active=True, request=request
    )
    messages.success(request, f"{location.name} is active again.")
    return redirect(_detail_url(location))


# --- Opening hours -----------------------------------------------------------------------


@capability_required(MANAGE)
def location_hours(request: HttpRequest, location_id: uuid.UUID) -> HttpResponse:
    location = location_for(request.user, location_id, to_manage=True)
    form = OpeningHoursForm(
        request.POST or None, initial=OpeningHoursForm.initial_for(location.opening_hours.all())
    )
    return _form_page(
        request,
        form,
        save=lambda: services.location_set_opening_hours(
            actor=request.user, location=location, hours=form.weekly_hours(), request=request
        ),
        saved=lambda _hours: (f"Opening hours of {location.name} saved.", _detail_url(location)),
        context={"location": location},
        template="clinic/locations/hours_form.html",
        field_for=OpeningHoursForm.field_for_error,
    )


# --- Closures ----------------------------------------------------------------------------


@capability_required(MANAGE)
def closure_add(request: HttpRequest, location_id: uuid.UUID) -> HttpResponse:
    location = location_for(request.user, location_id, to_manage=True)
    form = ClosureForm(request.POST or None)
    return _form_page(
        request,
        form,
        save=lambda: services.closure_add(
            actor=request.user, location=location, request=request, **form.cleaned_data
        ),
        saved=lambda _closure: (f"Closure added to {location.name}.", _detail_url(location)),
        context={
            "location": location,
            "title": f"Close {location.name} for a day or more",
            "intro": "For holidays, training days and the like. Both dates are included.",
            "submit_label": "Add closure",
            "cancel_url": _detail_url(location),
        },
    )


@capability_required(MANAGE)
def closure_remove(request: HttpRequest, location_id: uuid.UUID, closure_id: int) -> HttpResponse:
    closure = closure_for(request.user, location_id, closure_id, to_manage=True)
    location = closure.location
    return _confirm_page(
        request,
        act=lambda: services.closure_remove(actor=request.user, closure=closure, request=request),
        done=f"Closure removed: {location.name} is open as usual then.",
        location=location,
        title="Remove this closure?",
        subject=str(closure),
        explanation=f"{location.name} will follow its usual opening hours on these days.",
        submit_label="Remove closure",
    )


# --- Chairs ------------------------------------------------------------------------------


@capability_required(MANAGE)
def chair_add(request: HttpRequest, location_id: uuid.UUID) -> HttpResponse:
    location = location_for(request.user, location_id, to_manage=True)
    form = ChairForm(request.POST or None)
    return _form_page(
        request,
        form,
        save=lambda: services.chair_create(
            actor=request.user,
            location=location,
            name=form.cleaned_data["name"],
            request=request,
        ),
        saved=lambda chair: (f"{chair.name} added to {location.name}.", _detail_url(location)),
        context={
            "location": location,
            "title": f"Add a chair at {location.name}",
            "submit_label": "Add chair",
            "cancel_url": _detail_url(location),
        },
    )


@capability_required(MANAGE)
def chair_rename(request: HttpRequest, location_id: uuid.UUID, chair_id: uuid.UUID) -> HttpResponse:
    chair = chair_for(request.user, location_id, chair_id, to_manage=True)
    location = chair.location
    form = ChairForm(request.POST or None, initial={"name": chair.name})
    return _form_page(
        request,
        form,
        save=lambda: services.chair_update(
            actor=request.user, chair=chair, name=form.cleaned_data["name"], request=request
        ),
        saved=lambda renamed: (f"Chair renamed to {renamed.name}.", _detail_url(location)),
        context={
            "location": location,
            "title": f"Rename {chair.name}",
            "submit_label": "Save name",
            "cancel_url": _detail_url(location),
        },
    )


@capability_required(MANAGE)
def chair_deactivate(
    request: HttpRequest, location_id: uuid.UUID, chair_id: uuid.UUID
) -> HttpResponse:
    chair = chair_for(request.user, location_id, chair_id, to_manage=True)
    return _confirm_page(
        request,
        act=lambda: services.chair_set_active(
            actor=request.user, chair=chair, is_active=False, request=request
        ),
        done=f"{chair.name} is out of use. You can reactivate it from this page.",
        location=chair.location,
        title=f"Take {chair.name} out of use?",
        explanation=(
            "Nobody can book it while it is deactivated. Its history is kept, and you can "
            "reactivate it at any time."
        ),
        submit_label="Deactivate chair",
    )


@capability_required(MANAGE)
@require_POST
def chair_reactivate(
    request: HttpRequest, location_id: uuid.UUID, chair_id: uuid.UUID
) -> HttpResponse:
    chair = chair_for(request.user, location_id, chair_id, to_manage=True)
    try:
        services.chair_set_active(actor=request.user, chair=chair, is_active=True, request=request)
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, f"{chair.name} is back in use.")
    return redirect(_detail_url(chair.location))
