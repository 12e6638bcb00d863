"""sitemap.xml: the public pages and every published article (nothing else)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.urls import reverse

from content.conditions import CONDITION_GROUPS, ConditionGroup
from content.models import Article
from content.selectors import articles_published


class PublicSitemap(Sitemap):
    """Addresses use SITE_URL when it is set (the address patients use), else the request's."""

    def get_protocol(self, protocol: str | None = None) -> str:
        site_url = getattr(settings, "SITE_URL", "")
        return urlsplit(site_url).scheme if site_url else super().get_protocol(protocol)

    def get_domain(self, site: Any = None) -> str:
        site_url = getattr(settings, "SITE_URL", "")
        return urlsplit(site_url).netloc if site_url else super().get_domain(site)


class PagesSitemap(PublicSitemap):
    changefreq = "monthly"

    def items(self) -> list[str]:
        return [
            "content:home",
            "content:conditions",
            "content:locations",
            "content:faq",
            "content:articles",
        ]

    def location(self, item: str) -> str:
        return reverse(item)


class ConditionsSitemap(PublicSitemap):
    changefreq = "yearly"

    def items(self) -> tuple[ConditionGroup, ...]:
        return CONDITION_GROUPS


class ArticlesSitemap(PublicSitemap):
    changefreq = "monthly"

    def items(self) -> list[Article]:
        return list(articles_published())

    def location(self, item: Article) -> str:
        return reverse("content:article", args=[item.slug])

    def lastmod(self, item: Article) -> datetime:
        return item.published_at


SITEMAPS = {"pages": PagesSitemap, "conditions": ConditionsSitemap, "articles": ArticlesSitemap}
