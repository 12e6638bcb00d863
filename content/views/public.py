"""The public site: home, conditions, locations, FAQ, articles, sitemap.xml and robots.txt.

Anyone may read these pages, signed in or not; they show only published content (through
``content.selectors``). Pages without a query string are cached (``content.cache``), so
they are rendered without a CSRF token: no public page has a form that posts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from itertools import groupby
from typing import Any

from django.conf import settings
from django.contrib.postgres.search import SearchQuery, SearchVector
from django.contrib.sitemaps.views import sitemap
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import strip_tags
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.http import require_safe

from clinic.selectors import locations_public
from content.cache import cached_public_page
from content.conditions import CONDITION_GROUPS, condition_group
from content.rendering import render_markdown
from content.selectors import article_published_by_slug, articles_published, faq_published

SEARCH_MAX_LENGTH = 100
# The same escapes as Django's json_script: nothing in the data can end the <script>.
_JSON_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}


@dataclass(frozen=True)
class PageMeta:
    """What public_base.html puts in <head>: title, description, canonical URL, Open Graph."""

    title: str
    description: str
    canonical_url: str
    og_type: str = "website"


def absolute_url(request: HttpRequest, path: str) -> str:
    """``path`` on the address patients use: SITE_URL when set, else this request's host."""
    site_url = getattr(settings, "SITE_URL", "")
    if site_url:
        return f"{site_url}{path}"
    return request.build_absolute_uri(path)


def canonical_url(request: HttpRequest) -> str:
    """This page's canonical address: on SITE_URL when it is set; otherwise just the path,
    since the Host header a request came with is not to be trusted for it (behind a proxy it
    may be an internal name)."""
    site_url = getattr(settings, "SITE_URL", "")
    return f"{site_url}{request.path}" if site_url else request.path


def public_context(
    request: HttpRequest, *, title: str, description: str, og_type: str = "website", **extra: Any
) -> dict[str, Any]:
    return {
        "page": PageMeta(
            title=title,
            description=description,
            canonical_url=canonical_url(request),
            og_type=og_type,
        ),
        # Cached pages are shared by every visitor: render no CSRF token into them.
        "csrf_token": "",
        **extra,
    }


def json_ld(data: dict[str, Any]) -> SafeString:
    """``data`` as JSON that is safe inside <script type="application/ld+json">."""
    text = json.dumps(data, ensure_ascii=False, sort_keys=True).translate(_JSON_SCRIPT_ESCAPES)
    return mark_safe(text)  # noqa: S308 - <, > and & are escaped above


@require_safe
@cached_public_page
def home(request: HttpRequest) -> HttpResponse:
    context = public_context(
        request,
        title=f"{settings.CLINIC_NAME} · Ketamine infusion therapy",
        description=(
            f"{settings.CLINIC_NAME} offers medically supervised ketamine infusions for "
            "depression that has not responded to other treatment, anxiety, PTSD and some "
            "chronic pain conditions."
        ),
        locations=locations_public(),
        condition_groups=CONDITION_GROUPS,
        articles=articles_published()[:3],
    )
    return render(request, "content/home.html", context)


@require_safe
@cached_public_page
def conditions(request: HttpRequest) -> HttpResponse:
    context = public_context(
        request,
        title=f"Conditions we treat · {settings.CLINIC_NAME}",
        description="The conditions ketamine infusions are offered for, and how each is followed.",
        condition_groups=CONDITION_GROUPS,
    )
    return render(request, "content/conditions.html", context)


@require_safe
@cached_public_page
def condition(request: HttpRequest, slug: str) -> HttpResponse:
    group = condition_group(slug)
    if group is None:
        raise Http404("There is no conditions page at this address.")
    context = public_context(
        request,
        title=f"{group.title} · {settings.CLINIC_NAME}",
        description=f"Ketamine infusions for {group.summary[0].lower()}{group.summary[1:]}",
        group=group,
        condition_groups=CONDITION_GROUPS,
    )
    return render(request, "content/condition.html", context)


@require_safe
@cached_public_page
def locations(request: HttpRequest) -> HttpResponse:
    context = public_context(
        request,
        title=f"Locations and opening hours · {settings.CLINIC_NAME}",
        description=f"Where to find {settings.CLINIC_NAME}, how to call, and when we are open.",
        locations=locations_public(),
    )
    return render(request, "content/locations.html", context)


@require_safe
@cached_public_page
def faq(request: HttpRequest) -> HttpResponse:
    """The FAQ grouped by category; ``?q=`` keeps the questions whose question or answer
    contains the words, or the words as English stems them. Two queries however many
    entries (the session and the entries)."""
    query = " ".join(request.GET.get("q", "").split())[:SEARCH_MAX_LENGTH]
    entries = faq_published()
    if query:
        # Every word somewhere in the question or answer ("side eff"), or the words as
        # English reads them, endings aside ("driving" finds "drive", "costs" "cost").
        every_word = Q()
        for word in query.split():
            every_word &= Q(published_revision__question__icontains=word) | Q(
                published_revision__answer__icontains=word
            )
        entries = entries.annotate(
            words=SearchVector(
                "published_revision__question", "published_revision__answer", config="english"
            )
        ).filter(every_word | Q(words=SearchQuery(query, config="english", search_type="plain")))
    items = [
        {
            "entry": entry,
            "question": entry.published_revision.question,
            "answer": render_markdown(entry.published_revision.answer),
        }
        for entry in entries
    ]
    categories = [
        {"category": category, "items": list(group)}
        for category, group in groupby(items, key=lambda item: item["entry"].category)
    ]
    schema = {
        "@context": "https://schema.org",
        "@type": "FAQPage",
        "mainEntity": [
            {
                "@type": "Question",
                "name": item["question"],
                "acceptedAnswer": {"@type": "Answer", "text": str(item["answer"]).strip()},
            }
            for item in items
        ],
    }
    context = public_context(
        request,
        title=f"Questions and answers · {settings.CLINIC_NAME}",
        description="Answers to common questions about ketamine infusion therapy.",
        query=query,
        categories=categories,
        result_count=len(items),
        faq_json_ld=json_ld(schema) if items else "",
    )
    return render(request, "content/faq.html", context)


@require_safe
@cached_public_page
def articles(request: HttpRequest) -> HttpResponse:
    context = public_context(
        request,
        title=f"Learn about ketamine treatment · {settings.CLINIC_NAME}",
        description="Articles on what to expect before, during and after ketamine infusions.",
        articles=articles_published(),
    )
    return render(request, "content/articles.html", context)


@require_safe
@cached_public_page
def article(request: HttpRequest, slug: str) -> HttpResponse:
    """A published article; an earlier slug of one redirects (301); anything else is 404."""
    found = article_published_by_slug(slug)
    if found is None:
        raise Http404("There is no article at this address.")
    if isinstance(found, str):
        return redirect("content:article", slug=found, permanent=True)
    revision = found.published_revision
    context = public_context(
        request,
        title=f"{revision.seo_title or revision.title} · {settings.CLINIC_NAME}",
        description=revision.seo_description or strip_tags(revision.summary),
        og_type="article",
        article=found,
        revision=revision,
        body=render_markdown(revision.body),
    )
    return render(request, "content/article.html", context)


cached_sitemap = require_safe(cached_public_page(sitemap))


@require_safe
def robots_txt(request: HttpRequest) -> HttpResponse:
    lines = [
        "User-agent: *",
        "Disallow: /staff/",
        "Disallow: /admin/",
        "Disallow: /api/",
        "Disallow: /p/",
        "Disallow: /m/",
        "Disallow: /book/confirmed/",
        "Disallow: /book/manage/",
        "",
        f"Sitemap: {absolute_url(request, reverse('content:sitemap'))}",
        "",
    ]
    return HttpResponse("\n".join(lines), content_type="text/plain; charset=utf-8")
