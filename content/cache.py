"""Caching of the public pages, and how publishing makes the cached copies stale.

Every cached page is stored under a key that includes the current *content version*, a
random token kept in the cache. ``bump()`` replaces the token, so every page cached
before it is never read again (the old copies expire on their own). The services that
publish, unpublish or restore content call ``bump()``.

A page is kept at most ``CONTENT_PAGE_CACHE_SECONDS`` (5 minutes unless set), and never
past the next scheduled ``publish_at``: a revision scheduled for 9:00 shows at 9:00
without anyone bumping anything. Locations and opening hours are not versioned; a change
to them shows once the cached copy expires.

What is never cached, so no visitor sees another's page: anything but GET/HEAD, requests
with a query string (the FAQ search), requests with messages waiting to be shown, and
responses that are not a plain 200 or that set a cookie. Pages rendered for the cache
carry no CSRF token (see ``public_context``): a token is tied to one visitor's cookie.
"""

from __future__ import annotations

import hashlib
import math
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.messages import get_messages
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Min
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

VERSION_KEY = "content:pages:version"
DEFAULT_PAGE_SECONDS = 300

# Set again for each response by the middleware, or belonging to one visitor only.
_NOT_STORED = {"content-length", "vary", "set-cookie", "x-frame-options"}

View = Callable[..., HttpResponse]


def bump() -> None:
    """Make every cached public page stale: now, and again when the current transaction
    commits (so a page rendered from the old rows in between is not kept either)."""
    _new_version()
    transaction.on_commit(_new_version)


def content_version() -> str:
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, uuid.uuid4().hex, timeout=None)
        version = cache.get(VERSION_KEY, "")
    return str(version)


def page_seconds() -> int:
    """How long a page rendered now may be kept: the usual time, cut short by the next
    scheduled publication. Two queries."""
    from content.models import Article, FaqEntry

    now = timezone.now()
    seconds = int(getattr(settings, "CONTENT_PAGE_CACHE_SECONDS", DEFAULT_PAGE_SECONDS))
    for model in (FaqEntry, Article):
        next_at = model.objects.filter(
            published_revision__isnull=False, publish_at__gt=now
        ).aggregate(next_at=Min("publish_at"))["next_at"]
        if next_at is not None:
            seconds = min(seconds, math.ceil((next_at - now).total_seconds()))
    return max(seconds, 1)


def cached_public_page(view: View) -> View:
    """Serve a public page from the cache when it can be, and cache it when it may be."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not _may_use_cache(request):
            return view(request, *args, **kwargs)
        key = _page_key(request)
        stored = cache.get(key)
        if stored is not None:
            response = HttpResponse(_with_fresh_nonce(request, stored))
            for header, value in stored["headers"]:
                response[header] = value
            response["X-Content-Cache"] = "hit"
            return response
        response = view(request, *args, **kwargs)
        if hasattr(response, "render") and not response.is_rendered:
            response.render()  # a TemplateResponse, e.g. the sitemap's
        if _may_store(response):
            headers = [(h, v) for h, v in response.items() if h.lower() not in _NOT_STORED]
            page = {"content": response.content, "headers": headers, "nonce": _nonce_used(request)}
            cache.set(key, page, page_seconds())
        return response

    return wrapper


def _nonce_used(request: HttpRequest) -> str:
    """The Content-Security-Policy nonce the page was rendered with (the FAQ's JSON-LD
    carries one), or "" when it used none."""
    nonce = getattr(request, "csp_nonce", None)
    return str(nonce) if nonce else ""  # false until a template has read it


def _with_fresh_nonce(request: HttpRequest, stored: dict[str, Any]) -> bytes:
    """The stored page with this response's nonce in place of the one it was rendered with:
    each response's policy names its own nonce only, so an old one would be refused."""
    content: bytes = stored["content"]
    old = stored.get("nonce", "")
    if not old:
        return content
    return content.replace(f'nonce="{old}"'.encode(), f'nonce="{request.csp_nonce}"'.encode())


def _new_version() -> None:
    cache.set(VERSION_KEY, uuid.uuid4().hex, timeout=None)


def _may_use_cache(request: HttpRequest) -> bool:
    if request.method not in ("GET", "HEAD"):
        return False
    if request.GET:
        return False
    # A message is one visitor's own; reading the length leaves it unread.
    return len(get_messages(request)) == 0


def _may_store(response: HttpResponse) -> bool:
    if response.status_code != 200:
        return False
    if response.streaming:
        return False
    return not response.cookies


def _page_key(request: HttpRequest) -> str:
    # Everything a page shows besides its content: where it is, and the settings it prints.
    # The database name keeps test runs and installs that share a cache apart.
    parts = [
        request.scheme,
        request.get_host(),
        request.path,
        str(connection.settings_dict.get("NAME", "")),
        settings.CLINIC_NAME,
        settings.CRISIS_LINE,
        settings.CRISIS_LINE_TEXT,
        getattr(settings, "SITE_URL", ""),
    ]
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"content:page:{content_version()}:{digest}"
