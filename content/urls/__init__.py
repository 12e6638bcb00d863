"""The public site, mounted at the root (namespace "content"). The editors' pages are in
``content.urls.staff``."""

from django.urls import path

from content.sitemaps import SITEMAPS
from content.views import public

app_name = "content"

urlpatterns = [
    path("", public.home, name="home"),
    path("conditions/", public.conditions, name="conditions"),
    path("conditions/<slug:slug>/", public.condition, name="condition"),
    path("locations/", public.locations, name="locations"),
    path("faq/", public.faq, name="faq"),
    path("learn/", public.articles, name="articles"),
    path("learn/<slug:slug>/", public.article, name="article"),
    path(
        "sitemap.xml",
        public.cached_sitemap,
        {"sitemaps": SITEMAPS, "template_name": "content/sitemap.xml"},
        name="sitemap",
    ),
    path("robots.txt", public.robots_txt, name="robots"),
]
