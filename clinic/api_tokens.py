"""Personal API tokens: made, listed and revoked by their owner, revoked by a clinic admin.

A token is shown once, when it is made; only its SHA-256 digest is stored
(``clinic.models.ApiToken``). It expires after ``API_TOKEN_DAYS``. What it may do is decided
from its owner's roles each time it is used (``clinic.api.authentication``), so a role
taken away stops the token doing that at once.

Our own small model rather than django-rest-knox: knox hashes and expires tokens, but has
no name or last-used time (both needed on the account pages) without a custom token model,
and we would still override its authentication for demo accounts; what is left is a digest
and a comparison, a few lines here.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import ApiToken, User
from clinic.permissions import Capability, require, user_can

# Audit events about tokens name the owner's account (object id), never the token.
API_CREDENTIAL_TYPE = "clinic.apitoken"
SECRET_PREFIX = "cs_"  # noqa: S105  (a marker, not a secret: tells our tokens apart)
MAX_TOKENS_PER_USER = 20
# Writing last_used_at on every request would turn every API read into a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def api_token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def api_tokens_of(user: User) -> QuerySet[ApiToken]:
    """The person's tokens, newest first, expired ones included (they show as expired)."""
    return ApiToken.objects.filter(user=user).order_by("-created_at", "-id")


@transaction.atomic
def api_token_create(
    *, user: User, name: str, request: HttpRequest | None = None
) -> tuple[ApiToken, str]:
    """A new token for ``user``, and its secret: the only time the secret is known."""
    require(user, Capability.USE_API)
    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the token after what will use it, e.g. 'EHR sync'."})
    if len(name) > 80:
        raise ValidationError({"name": "Keep the name to 80 characters or fewer."})
    # Serialise a person's token creations, so the cap holds when clicked twice.
    User.objects.select_for_update().get(pk=user.pk)
    if ApiToken.objects.filter(user=user).count() >= MAX_TOKENS_PER_USER:
        raise ValidationError(
            f"You have {MAX_TOKENS_PER_USER} tokens, the most allowed. Revoke one you no "
            "longer use, then make the new one."
        )
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    token = ApiToken.objects.create(
        user=user,
        name=name,
        digest=api_token_digest(secret),
        prefix=secret[: len(SECRET_PREFIX) + 4],
        created_at=now,
        expires_at=now + timedelta(days=settings.API_TOKEN_DAYS),
    )
    audit_record(
        actor=user,
        action=Action.CREATE,
        object_type=API_CREDENTIAL_TYPE,
        object_id=str(user.public_id),
        summary=f'created API token "{name}", expiring {token.expires_at:%Y-%m-%d}',
        request=request,
    )
    return token, secret


@transaction.atomic
def api_token_revoke(*, actor: User, token: ApiToken, request: HttpRequest | None = None) -> None:
    """Delete ``token``: its owner may, and so may a clinic admin."""
    if token.user_id != actor.pk:
        require(actor, Capability.MANAGE_STAFF)
    if not user_can(actor, Capability.USE_STAFF_AREA):
        raise PermissionDenied
    owner = token.user
    ApiToken.objects.filter(pk=token.pk).delete()
    whose = "their" if owner.pk == actor.pk else f"{owner}'s"
    audit_record(
        actor=actor,
        action=Action.DELETE,
        object_type=API_CREDENTIAL_TYPE,
        object_id=str(owner.public_id),
        summary=f'revoked {whose} API token "{token.name}"',
        request=request,
    )


def api_tokens_delete_all(*, member: User) -> int:
    """Delete every token of ``member`` (on deactivation); the caller writes the audit."""
    deleted, _ = ApiToken.objects.filter(user=member).delete()
    return deleted


def api_token_authenticate(secret: str) -> ApiToken | None:
    """The unexpired token with this secret, its user loaded, or None. Marks it used.

    The caller checks the user (active, demo accounts); roles are read from the user row
    loaded here, so they are the roles of this moment.
    """
    if not secret.startswith(SECRET_PREFIX) or len(secret) > 200:
        return None
    token = ApiToken.objects.select_related("user").filter(digest=api_token_digest(secret)).first()
    if token is None or token.is_expired:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token
