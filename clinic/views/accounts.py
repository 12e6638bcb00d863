"""Staff accounts: clinic admins manage everyone's; each person manages their own."""

from __future__ import annotations

from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_POST

from clinic import accounts, api_tokens, staff_sessions
from clinic.cosign import cosigner_locked_out, cosigner_unlock
from clinic.forms import (
    ApiTokenForm,
    StaffAccountEditForm,
    StaffAccountForm,
    StaffFilterForm,
    StaffPasswordResetForm,
    show_service_errors,
)
from clinic.models import ApiToken, StaffSession, User
from clinic.permissions import Capability, capability_required, user_can
from clinic.second_factor import second_factor_locked_out, second_factor_unlock
from clinic.selectors import staff_member_for, staff_visible_to

ACCOUNTS_PER_PAGE = 25
# Secrets shown once, on the page after the one that made them, then forgotten.
SHOW_ONCE_LINK = "chairside_show_once_link"
SHOW_ONCE_API_KEY = "chairside_show_once_api_key"


# --- Clinic admins: everyone's accounts ---------------------------------------------------


@capability_required(Capability.MANAGE_STAFF)
def account_list(request: HttpRequest) -> HttpResponse:
    form = StaffFilterForm(request.GET)
    form.is_valid()  # an invalid filter is shown with its error and ignored
    filters = form.cleaned_data
    accounts_qs = staff_visible_to(
        request.user,
        search=filters.get("q", ""),
        role=filters.get("role", ""),
        status=filters.get("status", ""),
    )
    page = Paginator(accounts_qs, ACCOUNTS_PER_PAGE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "filtered": any(filters.values())}
    return render(request, "clinic/accounts/list.html", context)


@capability_required(Capability.MANAGE_STAFF)
def account_create(request: HttpRequest) -> HttpResponse:
    form = StaffAccountForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            member = accounts.staff_create(actor=request.user, request=request, **form.cleaned_data)
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            _remember_password_link(request, member, invitation=True)
            messages.success(
                request,
                f"Account created for {member}. We emailed them an invitation with a link to "
                "choose a password; the same link is below, in case the email does not arrive.",
            )
            return redirect("staff:account-edit", public_id=member.public_id)
    return render(request, "clinic/accounts/create.html", {"form": form})


@capability_required(Capability.MANAGE_STAFF)
def account_edit(request: HttpRequest, public_id: UUID) -> HttpResponse:
    member = staff_member_for(request.user, public_id)
    initial = {"full_name": member.full_name, "roles": member.roles}
    form = StaffAccountEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            accounts.staff_update(
                actor=request.user, member=member, request=request, **form.cleaned_data
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            messages.success(request, f"Saved {member}'s account.")
            return redirect("staff:account-list")
    password_link = None
    stored = request.session.get(SHOW_ONCE_LINK)
    if stored and stored.get("account") == str(member.public_id):
        password_link = request.session.pop(SHOW_ONCE_LINK)["url"]
    context = {
        "member": member,
        "form": form,
        "password_link": password_link,
        "is_self": member.pk == request.user.pk,
        "cosign_locked_out": cosigner_locked_out(member),
        "api_tokens": api_tokens.api_tokens_of(member),
        "staff_sessions": staff_sessions.staff_sessions_of(member),
        "current_session_id": staff_sessions.current_session_id(request),
        "second_factor_locked_out": second_factor_locked_out(member),
    }
    return render(request, "clinic/accounts/edit.html", context)


@capability_required(Capability.MANAGE_STAFF)
def account_deactivate(request: HttpRequest, public_id: UUID) -> HttpResponse:
    return _set_active(request, public_id, is_active=False)


@capability_required(Capability.MANAGE_STAFF)
def account_reactivate(request: HttpRequest, public_id: UUID) -> HttpResponse:
    return _set_active(request, public_id, is_active=True)


def _set_active(request: HttpRequest, public_id: UUID, *, is_active: bool) -> HttpResponse:
    member = staff_member_for(request.user, public_id)
    if request.method == "POST":
        try:
            accounts.staff_set_active(
                actor=request.user, member=member, is_active=is_active, request=request
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
            return redirect("staff:account-edit", public_id=member.public_id)
        done = "reactivated" if is_active else "deactivated"
        messages.success(request, f"{member}'s account is {done}.")
        return redirect("staff:account-list")
    context = {"member": member, "is_active": is_active, "is_self": member.pk == request.user.pk}
    return render(request, "clinic/accounts/confirm_active.html", context)


@require_POST
@capability_required(Capability.MANAGE_STAFF)
def account_unlock(request: HttpRequest, public_id: UUID) -> HttpResponse:
    member = staff_member_for(request.user, public_id)
    cleared = accounts.staff_unlock(actor=request.user, member=member, request=request)
    # The same lockout guards their password when they confirm on a colleague's screen.
    cosign_locked = cosigner_locked_out(member)
    cosigner_unlock(member)
    # And the pause after wrong second-factor codes.
    codes_locked = second_factor_locked_out(member)
    second_factor_unlock(member)
    if cleared or cosign_locked or codes_locked:
        messages.success(request, f"Unlocked: {member} can try to sign in again straight away.")
    else:
        messages.info(request, f"{member} has no failed sign-ins on record; nothing to unlock.")
    return redirect("staff:account-edit", public_id=member.public_id)


@require_POST
@capability_required(Capability.MANAGE_STAFF)
def account_token_revoke(request: HttpRequest, public_id: UUID, token_id: UUID) -> HttpResponse:
    member = staff_member_for(request.user, public_id)
    token = get_object_or_404(ApiToken, user=member, public_id=token_id)
    api_tokens.api_token_revoke(actor=request.user, token=token, request=request)
    messages.success(request, f'Revoked {member}\'s API token "{token.name}": it no longer works.')
    return redirect("staff:account-edit", public_id=member.public_id)


@require_POST
@capability_required(Capability.MANAGE_STAFF)
def account_session_revoke(request: HttpRequest, public_id: UUID, session_id: UUID) -> HttpResponse:
    member = staff_member_for(request.user, public_id)
    staff_session = get_object_or_404(StaffSession, user=member, public_id=session_id)
    try:
        staff_sessions.staff_session_revoke(
            actor=request.user, staff_session=staff_session, request=request
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Signed {member} out of that session.")
    return redirect("staff:account-edit", public_id=member.public_id)


@require_POST
@capability_required(Capability.MANAGE_STAFF)
def account_sessions_revoke_all(request: HttpRequest, public_id: UUID) -> HttpResponse:
    member = staff_member_for(request.user, public_id)
    # On your own account, "everywhere" spares the session you are using to ask.
    keep = request.session.session_key if member.pk == request.user.pk else None
    ended = staff_sessions.staff_sessions_end(
        actor=request.user, member=member, keep_session_key=keep, request=request
    )
    if ended:
        messages.success(request, f"Signed {member} out everywhere ({ended} session(s)).")
    else:
        messages.info(request, f"{member} was not signed in anywhere; nothing to do.")
    return redirect("staff:account-edit", public_id=member.public_id)


@require_POST
@capability_required(Capability.MANAGE_STAFF)
def account_password_link(request: HttpRequest, public_id: UUID) -> HttpResponse:
    member = staff_member_for(request.user, public_id)
    try:
        _remember_password_link(request, member)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"We emailed {member} a new set-password link.")
    return redirect("staff:account-edit", public_id=member.public_id)


def _remember_password_link(
    request: HttpRequest, member: User, *, invitation: bool = False
) -> None:
    token = accounts.staff_password_link_token(
        actor=request.user, member=member, request=request, invitation=invitation
    )
    path = reverse("staff:set-password", kwargs={"public_id": member.public_id, "token": token})
    request.session[SHOW_ONCE_LINK] = {
        "account": str(member.public_id),
        "url": request.build_absolute_uri(path),
    }


# --- Anyone holding a set-password link -----------------------------------------------------


def set_password(request: HttpRequest, public_id: UUID, token: str) -> HttpResponse:
    member = accounts.password_link_user(public_id, token)
    if member is None:
        return render(request, "clinic/accounts/set_password.html", {"link_ok": False})
    form = SetPasswordForm(member, request.POST or None)
    if request.method == "POST" and form.is_valid():
        accounts.password_set(
            user=member,
            new_password=form.cleaned_data["new_password1"],
            request=request,
            with_link=True,
        )
        messages.success(
            request, "Your password is set. Sign in with your email address and your new password."
        )
        return redirect("staff:login")
    context = {"link_ok": True, "member": member, "form": form}
    return render(request, "clinic/accounts/set_password.html", context)


# --- Everyone: their own account ----------------------------------------------------------


@capability_required(Capability.USE_STAFF_AREA)
def my_account(request: HttpRequest) -> HttpResponse:
    context = {
        "can_use_api": user_can(request.user, Capability.USE_API),
        "api_tokens": api_tokens.api_tokens_of(request.user),
        "new_api_token": request.session.pop(SHOW_ONCE_API_KEY, None),
        "staff_sessions": staff_sessions.staff_sessions_of(request.user),
        "current_session_id": staff_sessions.current_session_id(request),
        "api_url": request.build_absolute_uri(reverse("api:me")),
    }
    return render(request, "clinic/accounts/me.html", context)


@capability_required(Capability.USE_STAFF_AREA)
def my_password(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = accounts.password_set(
            user=request.user, new_password=form.cleaned_data["new_password1"], request=request
        )
        update_session_auth_hash(request, user)
        staff_sessions.staff_session_seen(request)  # the session's key changed just now
        messages.success(request, "Your password is changed. Use the new one next time.")
        return redirect("staff:my-account")
    return render(request, "clinic/accounts/my_password.html", {"form": form})


@capability_required(Capability.USE_API)
def my_token_create(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            token, secret = api_tokens.api_token_create(
                user=request.user, name=form.cleaned_data["name"], request=request
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            request.session[SHOW_ONCE_API_KEY] = {"name": token.name, "secret": secret}
            return redirect("staff:my-account")
    context = {"form": form, "days": settings.API_TOKEN_DAYS}
    return render(request, "clinic/accounts/my_token_create.html", context)


@capability_required(Capability.USE_STAFF_AREA)
def my_token_revoke(request: HttpRequest, token_id: UUID) -> HttpResponse:
    # Someone whose roles no longer allow the API may still revoke what they made.
    token = get_object_or_404(ApiToken, user=request.user, public_id=token_id)
    if request.method == "POST":
        api_tokens.api_token_revoke(actor=request.user, token=token, request=request)
        messages.success(request, f'Your API token "{token.name}" is revoked: it no longer works.')
        return redirect("staff:my-account")
    return render(request, "clinic/accounts/my_token_revoke.html", {"api_token": token})


@require_POST
@capability_required(Capability.USE_STAFF_AREA)
def my_session_revoke(request: HttpRequest, session_id: UUID) -> HttpResponse:
    staff_session = get_object_or_404(StaffSession, user=request.user, public_id=session_id)
    try:
        staff_sessions.staff_session_revoke(
            actor=request.user, staff_session=staff_session, request=request
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "That session is signed out.")
    return redirect("staff:my-account")


@require_POST
@capability_required(Capability.USE_STAFF_AREA)
def my_sessions_revoke_others(request: HttpRequest) -> HttpResponse:
    ended = staff_sessions.staff_sessions_end(
        actor=request.user,
        member=request.user,
        keep_session_key=request.session.session_key,
        request=request,
    )
    if ended:
        messages.success(request, f"Signed out of {ended} other session(s). This one stays.")
    else:
        messages.info(request, "You are not signed in anywhere else; nothing to do.")
    return redirect("staff:my-account")


# --- Anyone: "Forgot your password?" -------------------------------------------------------


class PasswordResetView(auth_views.PasswordResetView):
    """Asks for an address and answers the same whether or not it has an account.

    The email and its limits are ``accounts.password_reset_request``; its link opens the
    same set-password page as an invitation.
    """

    form_class = StaffPasswordResetForm
    template_name = "registration/password_reset_form.html"
    success_url = reverse_lazy("staff:password-reset-done")

    def form_valid(self, form: StaffPasswordResetForm) -> HttpResponse:
        accounts.password_reset_request(email=form.cleaned_data["email"], request=self.request)
        return redirect(self.get_success_url())


class PasswordResetDoneView(auth_views.PasswordResetDoneView):
    template_name = "registration/password_reset_done.html"
