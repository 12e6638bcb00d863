"""Markdown to safe HTML, for FAQ answers and article bodies.

Two layers, so a mistake in one is caught by the other:

1. markdown-it-py (CommonMark, plus tables) with raw HTML switched off: ``<script>`` typed
   into an answer comes out as text. Its own link check already drops ``javascript:``,
   ``vbscript:``, ``file:`` and ``data:`` links.
2. nh3 (ammonia) cleans what markdown-it produced against an allow-list of tags and
   attributes, with links limited to http, https, mailto and tel (and relative URLs).

Images are not rendered (the clinic has nowhere to host them, and a picture from another
site would tell that site who reads the page): ``![alt](url)`` shows its alt text. Headings
move down a level, so an article's ``# Heading`` sits under the page's own ``<h1>``.
Links to other sites get ``rel="noopener noreferrer"``.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import nh3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt
from markdown_it.renderer import RendererHTML
from markdown_it.token import Token
from markdown_it.utils import OptionsDict

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "strong",
    "em",
    "s",
    "a",
    "ul",
    "ol",
    "li",
    "blockquote",
    "code",
    "pre",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "ol": {"start"},
    "th": {"style"},
    "td": {"style"},
}
URL_SCHEMES = {"http", "https", "mailto", "tel"}
EXTERNAL_REL = "noopener noreferrer"
# Table cells may say how they are aligned, and nothing else.
ALLOWED_STYLE_PROPERTIES = {"text-align"}


def render_markdown(text: str) -> SafeString:
    """``text`` (Markdown, from an editor) as HTML that is safe to put in a page."""
    html = _markdown().render(text or "")
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=ALLOWED_ATTRIBUTES,
        tag_attribute_values={"a": {"rel": {EXTERNAL_REL}}},
        link_rel=None,
        url_schemes=URL_SCHEMES,
        filter_style_properties=ALLOWED_STYLE_PROPERTIES,
        strip_comments=True,
    )
    return mark_safe(cleaned)  # noqa: S308 - cleaned by nh3 against the allow-list above


def is_external(href: str) -> bool:
    """Whether a link leaves the site: it names a host (``https://…``, ``//…``)."""
    return bool(urlsplit(href.strip()).netloc)


@cache
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.enable("strikethrough")
    md.add_render_rule("heading_open", _heading_open)
    md.add_render_rule("heading_close", _heading_close)
    md.add_render_rule("link_open", _link_open)
    md.add_render_rule("image", _image)
    return md


def _demoted(tag: str) -> str:
    level = min(int(tag[1]) + 1, 6)
    return f"h{level}"


def _heading_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any
) -> str:
    return f"<{_demoted(tokens[idx].tag)}>"


def _heading_close(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any
) -> str:
    return f"</{_demoted(tokens[idx].tag)}>\n"


def _link_open(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any
) -> str:
    token = tokens[idx]
    href = str(token.attrGet("href") or "")
    if is_external(href):
        token.attrSet("rel", EXTERNAL_REL)
    return self.renderToken(tokens, idx, options, env)


def _image(
    self: RendererHTML, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Any
) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env)
    return escape(alt)
