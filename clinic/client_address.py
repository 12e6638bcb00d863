"""The address of the visitor a request came from, the one place that decides it.

Behind a reverse proxy every request arrives from the proxy, so ``REMOTE_ADDR`` is the
proxy's address for every visitor. Each proxy appends the address it received the request
from to ``X-Forwarded-For``; with ``TRUSTED_PROXY_COUNT`` = N proxies of our own in front,
the Nth entry from the right is the last one written by a proxy we trust, and so the
visitor's address. Entries further left were written by the visitor (or its proxies) and
can say anything: they are never used.

Used by the booking rate limits, the login lockout (django-axes's
``AXES_CLIENT_IP_CALLABLE``), the co-sign log and the audit log.
"""

from __future__ import annotations

import ipaddress
import logging

from django.conf import settings
from django.http import HttpRequest

logger = logging.getLogger(__name__)


def client_ip(request: HttpRequest | None) -> str | None:
    """The visitor's address, or None without a request (e.g. in a Celery task).

    With no trusted proxy, ``REMOTE_ADDR``. With N, the Nth ``X-Forwarded-For`` entry from
    the right. A header that is missing, has fewer than N entries, or whose last N entries
    are not all IP addresses falls back to ``REMOTE_ADDR`` (the nearest proxy: visitors then
    share one address, which limits too much but never lets a visitor choose its own)."""
    if request is None:
        return None
    remote = _valid_ip(request.META.get("REMOTE_ADDR", ""))
    count = settings.TRUSTED_PROXY_COUNT
    if count == 0:
        return remote
    entries = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    if len(entries) < count:
        logger.debug(
            "X-Forwarded-For has %d entries but TRUSTED_PROXY_COUNT is %d: using REMOTE_ADDR",
            len(entries),
            count,
        )
        return remote
    # Every entry our proxies wrote must be an address, or the header is not what we think.
    trusted = [_valid_ip(entry) for entry in entries[-count:]]
    if None in trusted:
        return remote
    return trusted[0]


def _valid_ip(value: str) -> str | None:
    """``value`` as a normalised IP address, or None when it is not one."""
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443"
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "203.0.113.7:51234"
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None
