"""Emails to staff carrying a one-time set-password link: an invitation, a new link sent by
a clinic admin, and a password reset the person asked for.

Sent by a Celery task queued when the transaction commits, through Django's ``send_mail``,
not the outbox: the outbox keeps the body of what it sent, and these bodies hold a working
link. The link's token is made in the worker, so it never waits in the queue either; it is
the same one-time token as the set-password page checks (``PASSWORD_RESET_TIMEOUT``).
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from celery import shared_task
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from clinic.auth import is_demo_account
from clinic.models import User

INVITATION = "invitation"
NEW_LINK = "new_link"
RESET = "reset"
KINDS = (INVITATION, NEW_LINK, RESET)


def password_email_enqueue(
    *, member: User, kind: str, actor: User | None = None, request: HttpRequest | None = None
) -> None:
    """Queue the email for after the commit; links use SITE_URL, else this request's host."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}.")
    base_url = settings.SITE_URL or (
        request.build_absolute_uri("/").rstrip("/") if request is not None else ""
    )
    transaction.on_commit(
        partial(send_password_email.delay, member.pk, kind, actor.pk if actor else None, base_url)
    )


def password_email_send(*, member_id: int, kind: str, actor_id: int | None, base_url: str) -> bool:
    """Send it now (in the worker); False if the account can no longer use a link."""
    member = User.objects.filter(pk=member_id, is_active=True).first()
    if member is None or (not settings.DEBUG and is_demo_account(member.email)):
        return False
    actor = User.objects.filter(pk=actor_id).first() if actor_id else None
    token = default_token_generator.make_token(member)
    path = reverse("staff:set-password", kwargs={"public_id": member.public_id, "token": token})
    expires_at = timezone.localtime(
        timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)
    )
    context = {
        "member": member,
        "actor": actor,
        "clinic_name": settings.CLINIC_NAME,
        "link": f"{base_url}{path}",
        "login_url": f"{base_url}{reverse('staff:login')}",
        "expires_at": expires_at,
        "time_zone": settings.TIME_ZONE,
    }
    subject = render_to_string(f"clinic/accounts/emails/{kind}_subject.txt", context)
    body = render_to_string(f"clinic/accounts/emails/{kind}.txt", context)
    send_mail(" ".join(subject.split()), body, None, [member.email])
    return True


@shared_task(
    name="clinic.tasks.send_password_email",
    autoretry_for=(OSError,),
    retry_backoff=True,
    max_retries=5,
)
def send_password_email(member_id: int, kind: str, actor_id: int | None, base_url: str) -> bool:
    """An invitation, new set-password link or reset link: the worker's side of
    ``password_email_enqueue``."""
    return password_email_send(member_id=member_id, kind=kind, actor_id=actor_id, base_url=base_url)
