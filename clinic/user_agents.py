"""A browser's user agent in short ("Firefox on Windows"), for the lists of signed-in
sessions (``clinic.models.StaffSession.browser``) and their audit texts."""

from __future__ import annotations

import re


def browser_summary(user_agent: str) -> str:
    """ "Firefox on Windows", "Safari on iPhone": enough to recognise a device, no more."""
    browser = next(
        (name for pattern, name in _BROWSERS if re.search(pattern, user_agent)), "A browser"
    )
    system = next((name for pattern, name in _SYSTEMS if re.search(pattern, user_agent)), "")
    return f"{browser} on {system}" if system else browser


_BROWSERS = [
    (r"Edg(e|A|iOS)?/", "Edge"),
    (r"OPR/|Opera", "Opera"),
    (r"Firefox/|FxiOS/", "Firefox"),
    (r"Chrome/|CriOS/|Chromium/", "Chrome"),
    (r"Safari/", "Safari"),
    (r"^curl/", "curl"),
]
_SYSTEMS = [
    (r"iPhone", "iPhone"),
    (r"iPad", "iPad"),
    (r"Android", "Android"),
    (r"Windows", "Windows"),
    (r"CrOS", "ChromeOS"),
    (r"Mac OS X|Macintosh", "macOS"),
    (r"Linux", "Linux"),
]
