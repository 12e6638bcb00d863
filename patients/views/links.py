"""What every page reached through a link sent to a patient (/p/) has in common."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import wraps
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def patient_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Refuse a link page in a browser signed in as staff.

    Whatever is sent through a patient's link is recorded as the patient's own answer,
    consent or check-in. A front desk that opens the link it just created would otherwise
    fill it in under the patient's name: staff enter things on a patient's behalf from the
    chart instead, where they are recorded under the staff member's name. The link is not
    opened, so it still works on the patient's own device.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            return render(request, "patients/links/staff_signed_in.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def replace_confirm(
    request: HttpRequest,
    *,
    patient: Any,
    what: str,
    action: str,
    problems: list[str],
    keep: Sequence[tuple[str, str]] = (),
) -> HttpResponse:
    """Ask staff before a link only to copy replaces the one the patient holds (409).

    ``patients.links.refuse_silent_replacement`` raised ``problems``; the page offers to send
    a new link instead, to replace it anyway (``replace=1``), or to keep the current one.
    ``keep``: the form's fields to post again with either choice."""
    context = {
        "keep": keep,
        "patient": patient,
        "what": what,
        "title": f"{what.capitalize()} link",
        "action": action,
        "problems": problems,
    }
    return render(request, "patients/links/replace_confirm.html", context, status=409)
