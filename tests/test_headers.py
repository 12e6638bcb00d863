"""Response headers that keep patient data where it belongs: a Content-Security-Policy
that allows no inline script or style, and Cache-Control: no-store on everything that may
show a patient's details."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from content import cache as content_cache
from tests.url_patterns import all_routes

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# Emails are not web pages: mail clients need inline styles, and no CSP applies there.
EMAIL_TEMPLATES = TEMPLATES / "messages"
PUBLIC_PAGES = ["/", "/faq/", "/learn/", "/locations/", "/conditions/"]


def directives(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


# --- Content-Security-Policy ------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/", "/faq/", "/staff/login/", "/api/v1/content/faq/"])
def test_every_response_has_a_policy_without_inline_script_or_style(client, db, url):
    policy = directives(client.get(url))

    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"][0] == "'self'"
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["base-uri"] == ["'self'"]
    for directive in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in policy[directive]
        assert "'unsafe-eval'" not in policy[directive]


def test_the_staff_pages_have_the_policy_too(client, nina):
    client.force_login(nina)
    assert "'unsafe-inline'" not in client.get("/staff/")["Content-Security-Policy"]


def test_the_faq_structured_data_carries_the_nonce_of_its_response(client, db):
    content_cache.bump()  # no copy left by another test or run
    rendered = client.get("/faq/")
    from_the_page_cache = client.get("/faq/")

    for response in (rendered, from_the_page_cache):
        nonce = re.search(r'<script type="application/ld\+json" nonce="([^"]+)"', response.text)
        assert nonce, "the FAQ's JSON-LD has no nonce"
        assert f"'nonce-{nonce.group(1)}'" in directives(response)["script-src"]
    assert from_the_page_cache["X-Content-Cache"] == "hit"


def test_the_api_docs_load_their_script_from_a_file(client, alice):
    client.force_login(alice)

    page = client.get("/api/docs/")
    script = client.get("/api/docs/?script=")

    assert page.status_code == 200
    assert "<script>" not in page.text
    assert "<style" not in page.text
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")


def _template_files() -> list[Path]:
    return [
        path for path in sorted(TEMPLATES.rglob("*.html")) if EMAIL_TEMPLATES not in path.parents
    ]


# What the policy blocks, as it would be written in a template.
INLINE = {
    "a style attribute (use a class in static/css/chairside.css)": re.compile(r"\sstyle="),
    "an event handler attribute (wire it in static/js/chairside.js)": re.compile(
        r"\son[a-z]+=", re.IGNORECASE
    ),
    "hx-on (it evaluates script: wire it in static/js/chairside.js)": re.compile(r"hx-on"),
    "an inline <style> (move it to static/css)": re.compile(r"<style"),
    "an inline <script> without a nonce (move it to static/js)": re.compile(
        r"<script(?![^>]*\b(?:src|nonce)=)[^>]*>"
    ),
    "a javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def _without_comments(text: str) -> str:
    # Blank the comments out line for line, so the line numbers stay right.
    return re.sub(
        r"{% comment %}.*?{% endcomment %}|{#.*?#}",
        lambda comment: "\n" * comment.group(0).count("\n"),
        text,
        flags=re.DOTALL,
    )


def test_no_template_has_inline_script_or_style():
    found = [
        f"{path.relative_to(TEMPLATES)}:{number}: {what}"
        for path in _template_files()
        for number, line in enumerate(_without_comments(path.read_text()).splitlines(), 1)
        for what, pattern in INLINE.items()
        if pattern.search(line)
    ]
    assert not found, "The Content-Security-Policy would block:\n" + "\n".join(found)


# --- Cache-Control: no-store -----------------------------------------------------------------


def no_store(response) -> bool:
    return "no-store" in response.get("Cache-Control", "")


ROUTES = [route for route in all_routes() if not route.is_regex]


def test_everything_sent_to_signed_in_staff_is_no_store_on_every_route(client, alice):
    client.force_login(alice)
    cached = []
    for route in ROUTES:
        response = client.get(route.example_url())
        if not no_store(response):
            cached.append(f"{route.example_url()} ({response.status_code})")
    assert not cached, "Served to staff without Cache-Control: no-store: " + ", ".join(cached)


def test_patient_links_booking_pages_and_the_api_are_no_store_without_signing_in(client, db):
    private = [
        route.example_url()
        for route in ROUTES
        if route.example_url().startswith(("/p/", "/m/", "/book/", "/api/", "/staff/"))
    ]
    assert any(url.startswith("/p/intake/") for url in private)
    assert any(url.startswith("/book/manage/") for url in private)

    cached = [url for url in private if not no_store(client.get(url))]

    assert not cached, "Served without Cache-Control: no-store: " + ", ".join(cached)


@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_the_public_site_stays_cacheable_for_visitors(client, db, url):
    response = client.get(url)

    assert response.status_code == 200
    assert not no_store(response)


def test_a_public_page_is_no_store_for_signed_in_staff(client, nina):
    client.force_login(nina)
    assert no_store(client.get("/faq/"))
