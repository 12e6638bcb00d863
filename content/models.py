"""The public education pages: FAQ entries and articles, edited by admins and content
editors, every save kept as a revision.

An entry or article is the stable thing a URL points at; what it says lives in its
revisions. Editors always work on the latest revision (a draft until published); the
public sees ``published_revision``. Publishing points ``published_revision`` at a revision,
now or, when scheduled, from ``publish_at`` on (``content.selectors`` treats a scheduled
revision whose time has come as published, so no task has to flip it). Restoring an old
revision writes a new revision with its words, so history only grows.

Bodies are Markdown, rendered and sanitised on output (``content.rendering``); nothing is
stored as HTML.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinic.models import User


class FaqCategory(models.Model):
    """A heading the FAQ page groups its questions under, in ``order``."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=80, unique=True)
    slug = models.SlugField(max_length=80, unique=True)
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "name"]
        verbose_name_plural = "FAQ categories"

    def __str__(self) -> str:
        return self.name


class FaqEntry(models.Model):
    """One question and its answer; ``order`` places it within its category."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    category = models.ForeignKey(FaqCategory, on_delete=models.PROTECT, related_name="entries")
    order = models.PositiveIntegerField(default=0)
    published_revision = models.OneToOneField(
        "FaqRevision", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    publish_at = models.DateTimeField(
        null=True, blank=True, help_text="When the published revision goes live, if scheduled."
    )
    # Set by the initial content loader; it never changes an entry an editor has touched.
    seed_key = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["category__order", "order", "id"]
        verbose_name_plural = "FAQ entries"
        constraints = [
            models.UniqueConstraint(
                fields=["seed_key"], condition=~Q(seed_key=""), name="faq_seed_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"FAQ entry {self.public_id}"


class FaqRevision(models.Model):
    """What an FAQ entry said at one save, by whom and when. Never changed."""

    entry = models.ForeignKey(FaqEntry, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    question = models.CharField(max_length=200)
    answer = models.TextField(help_text="Markdown.")
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    restored_from = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["entry", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["entry", "number"], name="faq_revision_number_unique"),
        ]

    def __str__(self) -> str:
        return f"revision {self.number}"


class Article(models.Model):
    """An article at ``/learn/<slug>/``; earlier slugs redirect here (``ArticleRedirect``)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # The slug of the published revision: what the public URL uses.
    slug = models.SlugField(max_length=120, unique=True, null=True, blank=True)
    published_revision = models.OneToOneField(
        "ArticleRevision", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    publish_at = models.DateTimeField(
        null=True, blank=True, help_text="When the published revision goes live, if scheduled."
    )
    seed_key = models.CharField(max_length=80, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["seed_key"], condition=~Q(seed_key=""), name="article_seed_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"article {self.public_id}"


class ArticleRevision(models.Model):
    """What an article said at one save, by whom and when. Never changed."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=150)
    slug = models.SlugField(max_length=120)
    summary = models.CharField(max_length=300)
    hero_text = models.CharField(max_length=300, blank=True)
    body = models.TextField(help_text="Markdown.")
    seo_title = models.CharField("SEO title", max_length=70, blank=True)
    seo_description = models.CharField("SEO description", max_length=160, blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    restored_from = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["article", "-number"]
        constraints = [
            models.UniqueConstraint(
                fields=["article", "number"], name="article_revision_number_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"revision {self.number}"


class ArticleRedirect(models.Model):
    """An old slug of an article, so links to it keep working (301 to the current one)."""

    slug = models.SlugField(max_length=120, unique=True)
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="redirects")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.slug
