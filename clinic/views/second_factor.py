"""Second factor pages: proving it after the password, setting one up, managing one's own,
a clinic admin's reset, and the per-role policy. The rules are in ``clinic.second_factor``."""

from __future__ import annotations

from urllib.parse import quote
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from clinic import second_factor
from clinic.forms import (
    AuthenticatorCodeForm,
    RecoveryCodeForm,
    SecondFactorPolicyForm,
    show_service_errors,
)
from clinic.passkeys import SHOW_ONCE_RECOVERY_CODES
from clinic.permissions import Capability, capability_required
from clinic.roles import Role
from clinic.selectors import staff_member_for

TOTP_SETUP_KEY = "chairside_totp_setup_device"


def _next_url(request: HttpRequest) -> str:
    """Where to go once done: the page they were sent from, if it is one of ours."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _with_next(url_name: str, request: HttpRequest) -> str:
    return f"{reverse(url_name)}?next={_quote(_next_url(request))}"


def _quote(url: str) -> str:
    return quote(url, safe="/")


# --- After the password ---------------------------------------------------------------------


@login_required
def verify(request: HttpRequest) -> HttpResponse:
    step = second_factor.session_step(request)
    if step == "enrol":
        return redirect(_with_next("staff:second-factor-setup", request))
    if step != "verify":
        return redirect(_next_url(request))
    user = request.user
    if second_factor.second_factor_locked_out(user):
        return _locked_out(request)

    recovery = "recovery_code" in request.POST
    code_form = AuthenticatorCodeForm(request.POST if request.POST and not recovery else None)
    recovery_form = RecoveryCodeForm(request.POST if recovery else None)
    form, field = (recovery_form, "recovery_code") if recovery else (code_form, "code")
    if request.method == "POST" and form.is_valid():
        try:
            device = second_factor.second_factor_verify(
                user=user, code=form.cleaned_data[field], recovery=recovery, request=request
            )
        except second_factor.SecondFactorLockedOut:
            return _locked_out(request)
        if device is not None:
            second_factor.session_mark_verified(request, device)
            if isinstance(device, StaticDevice):
                left = second_factor.recovery_codes_left(user)
                messages.warning(
                    request,
                    f"You signed in with a recovery code; it will not work again. You have "
                    f"{left} left. If your phone or passkey is lost, make new codes or set up "
                    "a new second factor on your account page.",
                )
            return redirect(_next_url(request))
        form.add_error(field, _wrong_code_message(user, recovery=recovery))

    context = {
        "code_form": code_form,
        "recovery_form": recovery_form,
        "show_recovery": recovery,
        "has_totp": second_factor.totp_device_of(user) is not None,
        "has_passkey": second_factor.passkeys_of(user).exists(),
        "next": _next_url(request),
        "lockout_minutes": second_factor.lockout_minutes(),
    }
    return render(request, "clinic/second_factor/verify.html", context)


def _wrong_code_message(user, *, recovery: bool) -> str:
    left = second_factor.attempts_left(user)
    what = (
        "That recovery code is not right, or was already used. Check it and try again"
        if recovery
        else "That code is not right. Enter the 6-digit code your authenticator app shows now "
        "(if codes keep failing, check that the phone's clock is set automatically)"
    )
    return (
        f"{what}. After {left} more wrong code{'s' if left != 1 else ''}, sign-in is paused for "
        f"{second_factor.lockout_minutes()} minutes."
    )


def _locked_out(request: HttpRequest) -> HttpResponse:
    logout(request)
    context = {"lockout_minutes": second_factor.lockout_minutes()}
    return render(request, "clinic/second_factor/locked_out.html", context, status=429)


# --- Setting one up ---------------------------------------------------------------------


def _must_verify_first(request: HttpRequest) -> HttpResponse | None:
    # Setting up a new device must not be a way round proving the one they have.
    if second_factor.session_step(request) == "verify":
        return redirect(_with_next("staff:second-factor-verify", request))
    return None


@login_required
def setup(request: HttpRequest) -> HttpResponse:
    if (refused := _must_verify_first(request)) is not None:
        return refused
    user = request.user
    context = {
        "must_enrol": second_factor.session_step(request) == "enrol",
        "status": second_factor.second_factor_status_of(user),
        "next": _next_url(request),
    }
    return render(request, "clinic/second_factor/setup.html", context)


@login_required
def totp_setup(request: HttpRequest) -> HttpResponse:
    if (refused := _must_verify_first(request)) is not None:
        return refused
    user = request.user
    device = TOTPDevice.objects.filter(
        pk=request.session.get(TOTP_SETUP_KEY), user=user, confirmed=False
    ).first()
    if device is None:
        device = second_factor.totp_device_start(user=user)
        request.session[TOTP_SETUP_KEY] = device.pk
    form = AuthenticatorCodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = second_factor.totp_device_confirm(
                user=user, device=device, code=form.cleaned_data["code"], request=request
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            request.session.pop(TOTP_SETUP_KEY, None)
            if not second_factor.session_is_verified(request):
                device.refresh_from_db()
                second_factor.session_mark_verified(request, device)
            messages.success(request, "Your authenticator app is set up.")
            return _after_setup(request, codes)
    context = {
        "form": form,
        "qr_svg": second_factor.totp_qr_svg(device),
        "secret": second_factor.totp_secret(device),
        "issuer": settings.OTP_TOTP_ISSUER,
        "replaces": second_factor.totp_device_of(user) is not None,
        "next": _next_url(request),
    }
    return render(request, "clinic/second_factor/totp_setup.html", context)


@login_required
def passkey_setup(request: HttpRequest) -> HttpResponse:
    if (refused := _must_verify_first(request)) is not None:
        return refused
    done = _with_next("staff:second-factor-passkey-added", request)
    return render(request, "clinic/second_factor/passkey_setup.html", {"done_url": done})


@login_required
def passkey_added(request: HttpRequest) -> HttpResponse:
    """Where the passkey script goes once the passkey is saved."""
    if (refused := _must_verify_first(request)) is not None:
        return refused
    messages.success(request, "Your passkey is added.")
    return _after_setup(request, request.session.pop(SHOW_ONCE_RECOVERY_CODES, []))


def _after_setup(request: HttpRequest, codes: list[str]) -> HttpResponse:
    if codes:
        request.session[SHOW_ONCE_RECOVERY_CODES] = codes
        return redirect(_with_next("staff:second-factor-recovery-codes", request))
    return redirect(_next_url(request))


@login_required
def recovery_codes(request: HttpRequest) -> HttpResponse:
    """New recovery codes, shown once."""
    codes = request.session.pop(SHOW_ONCE_RECOVERY_CODES, None)
    if not codes:
        return redirect(_next_url(request))
    context = {"codes": codes, "next": _next_url(request)}
    return render(request, "clinic/second_factor/recovery_codes.html", context)


# --- One's own account ----------------------------------------------------------------------


@capability_required(Capability.USE_STAFF_AREA)
def mine(request: HttpRequest) -> HttpResponse:
    user = request.user
    context = {
        "status": second_factor.second_factor_status_of(user),
        "passkeys": second_factor.passkeys_of(user),
        "required": second_factor.second_factor_required_for(user),
        "demo_exempt": second_factor.demo_exempt(user),
    }
    return render(request, "clinic/second_factor/mine.html", context)


@require_POST
@capability_required(Capability.USE_STAFF_AREA)
def my_totp_remove(request: HttpRequest) -> HttpResponse:
    try:
        second_factor.totp_device_remove(user=request.user, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "Your authenticator app is removed: its codes no longer work.")
    return redirect("staff:my-second-factor")


@require_POST
@capability_required(Capability.USE_STAFF_AREA)
def my_passkey_remove(request: HttpRequest, passkey_ref: str) -> HttpResponse:
    try:
        second_factor.passkey_remove(user=request.user, passkey_ref=passkey_ref, request=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "The passkey is removed: it no longer signs you in.")
    return redirect("staff:my-second-factor")


@require_POST
@capability_required(Capability.USE_STAFF_AREA)
def my_recovery_codes_create(request: HttpRequest) -> HttpResponse:
    if not second_factor.second_factor_status_of(request.user).enrolled:
        messages.error(request, "Set up an authenticator app or a passkey first.")
        return redirect("staff:my-second-factor")
    codes = second_factor.recovery_codes_create(user=request.user, request=request)
    request.session[SHOW_ONCE_RECOVERY_CODES] = codes
    url = reverse("staff:second-factor-recovery-codes")
    return redirect(f"{url}?next={_quote(reverse('staff:my-second-factor'))}")


# --- Clinic admins ----------------------------------------------------------------------------


@capability_required(Capability.MANAGE_STAFF)
def account_reset(request: HttpRequest, public_id: UUID) -> HttpResponse:
    """Reset a member's second factor (lost phone), after a confirmation page."""
    member = staff_member_for(request.user, public_id)
    if request.method == "POST":
        try:
            second_factor.second_factor_reset(actor=request.user, member=member, request=request)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request,
                f"{member}'s second factor is reset and they are signed out everywhere. At "
                "their next sign-in they set up a new one.",
            )
        return redirect("staff:account-edit", public_id=member.public_id)
    context = {
        "member": member,
        "status": second_factor.second_factor_status_of(member),
        "is_self": member.pk == request.user.pk,
    }
    return render(request, "clinic/second_factor/reset_confirm.html", context)


@capability_required(Capability.MANAGE_STAFF)
def policy(request: HttpRequest) -> HttpResponse:
    current = second_factor.required_roles()
    form = SecondFactorPolicyForm(
        request.POST or None, initial={"roles": [r for r in Role.values if r in current]}
    )
    if request.method == "POST" and form.is_valid():
        try:
            after = second_factor.second_factor_policy_set(
                actor=request.user, roles=form.cleaned_data["roles"], request=request
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            if after == current:
                messages.info(request, "Nothing changed: the policy was already like that.")
            else:
                messages.success(
                    request,
                    "Saved. People whose role now needs a second factor set one up at their "
                    "next sign-in.",
                )
            return redirect("staff:second-factor-policy")
    context = {"form": form, "debug_demo": settings.DEBUG}
    return render(request, "clinic/second_factor/policy.html", context)
