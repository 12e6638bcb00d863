"""The usual XSS payloads, and a check that finds anything in a page that could run them."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

XSS_PAYLOADS = [
    '<script>alert("xss")</script>',
    "<img src=x onerror=alert(1)>",
    '<a href="javascript:alert(1)">click</a>',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](java&#x09;script:alert(1))",
    "[click](data:text/html,%3Cscript%3Ealert(1)%3C/script%3E)",
    "![pic](javascript:alert(1))",
    '![pic](x" onerror="alert(1))',
    '<iframe src="https://evil.example/"></iframe>',
    '<div style="width: expression(alert(1))">x</div>',
    "<svg onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "&lt;script&gt;alert(1)&lt;/script&gt;",
    "<scr<script>ipt>alert(1)</script>",
    '[a](https://ok.example "t\\" onmouseover=\\"alert(1)")',
    '"><script>alert(1)</script>',
    "</script><script>alert(1)</script>",
    "<style>body{background:url(javascript:alert(1))}</style>",
]

# Tags an editor's text must never produce; a page's own <script> tags are checked apart.
FORBIDDEN_TAGS = {
    "iframe",
    "frame",
    "object",
    "embed",
    "svg",
    "math",
    "style",
    "img",
    "form",
    "base",
    "link",
    "meta",
    "input",
    "button",
    "video",
    "audio",
    "source",
}
# A whole page has its own head tags and the FAQ's search form.
PAGE_OWN_TAGS = {"meta", "link", "form", "input", "button"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "poster", "background"}
BAD_SCHEMES = ("javascript:", "vbscript:", "data:")
_IGNORED_IN_URLS = re.compile(r"[\x00-\x20]")


class _Finder(HTMLParser):
    def __init__(self, *, page: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "script" and not self._page_script(attributes):
            self.found.append(f"<script {attributes}>")
        if tag in FORBIDDEN_TAGS and not (
            self.page and tag in {"meta", "link", "form", "input", "button"}
        ):
            self.found.append(f"<{tag}>")
        for name, value in attributes.items():
            if name.startswith("on"):
                self.found.append(f"{name}= on <{tag}>")
            if name == "style" and re.search(r"expression|url\(|javascript", value, re.I):
                self.found.append(f"style={value!r} on <{tag}>")
            if name in URL_ATTRIBUTES:
                url = _IGNORED_IN_URLS.sub("", html.unescape(value)).lower()
                if url.startswith(BAD_SCHEMES):
                    self.found.append(f"{name}={value!r} on <{tag}>")

    def _page_script(self, attributes: dict[str, str]) -> bool:
        if not self.page:
            return False
        return (
            attributes.get("src", "").startswith("/static/")
            or attributes.get("type") == "application/ld+json"
        )


def dangerous_markup(markup: str, *, page: bool = False) -> list[str]:
    """What in ``markup`` could run script. ``page``: a whole page, whose own scripts (from
    /static/, and JSON-LD data), meta and link tags and GET search form are expected."""
    finder = _Finder(page=page)
    finder.feed(markup)
    finder.close()
    return finder.found
