"""The hand-back page of a clinic tablet (``clinic.tablet``)."""

from __future__ import annotations

from django import forms
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache

from clinic.audit import Action, audit_record
from clinic.tablet import SESSION_KEY

FAILURES_KEY = "tablet_handback_failures"
MAX_FAILURES = 5


class HandbackForm(forms.Form):
    password = forms.CharField(
        label="Staff member's password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )


@never_cache
@login_required
def tablet_handback(request: HttpRequest) -> HttpResponse:
    """'Thank you — please hand the tablet back': the staff member continues with their
    password; anything else stays here."""
    back_to = request.session.get(SESSION_KEY)
    if back_to is None:
        return redirect("staff:home")
    form = HandbackForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if request.user.check_password(form.cleaned_data["password"]):
            del request.session[SESSION_KEY]
            request.session.pop(FAILURES_KEY, None)
            audit_record(
                actor=request.user,
                action=Action.UPDATE,
                target=request.user,
                summary="took the clinic tablet back",
                request=request,
            )
            if not url_has_allowed_host_and_scheme(back_to, allowed_hosts=None):
                back_to = "/staff/"
            return redirect(back_to)
        failures = request.session.get(FAILURES_KEY, 0) + 1
        request.session[FAILURES_KEY] = failures
        if failures >= MAX_FAILURES:
            # Not a place to guess passwords: sign the session out; staff sign in again.
            logout(request)
            return redirect("staff:login")
        form.add_error(
            "password",
            "That password is not right: the staff member who handed over the tablet types "
            "their own.",
        )
    status = 400 if request.method == "POST" else 200
    return render(request, "clinic/tablet_handback.html", {"form": form}, status=status)
