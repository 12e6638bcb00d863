"""Reading the education content: what editors may open, and what the public sees.

Editors fetch an entry or article through its one access function (``faq_entry_for``,
``article_for``; 403 without EDIT_CONTENT, 404 if there is none) and its revisions through
``faq_revision_for`` / ``article_revision_for`` (404 for a number the entry does not have).

The public sees only live content: a ``published_revision`` whose ``publish_at`` is empty or
has come (``faq_published``, ``articles_published``, ``article_published_by_slug``). Each
runs a fixed number of queries, whatever the number of entries.
"""

from __future__ import annotations

import difflib
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from clinic.permissions import Capability, require
from content.models import (
    Article,
    ArticleRedirect,
    ArticleRevision,
    FaqCategory,
    FaqEntry,
    FaqRevision,
)

EDIT = Capability.EDIT_CONTENT
MAX_REVISION = 2**31 - 1


class State:
    """Where an entry or article stands, as its badge says."""

    DRAFT = "draft"  # never published, or unpublished
    SCHEDULED = "scheduled"  # published from ``publish_at`` on, which has not come yet
    PUBLISHED = "published"  # live, and the latest revision is the live one
    CHANGED = "changed"  # live, with later revisions not yet published

    LABELS = {
        DRAFT: "Draft",
        SCHEDULED: "Scheduled",
        PUBLISHED: "Published",
        CHANGED: "Published, with unpublished changes",
    }


def _live(now: datetime | None = None) -> Q:
    now = now or timezone.now()
    return Q(published_revision__isnull=False) & (
        Q(publish_at__isnull=True) | Q(publish_at__lte=now)
    )


def is_live(item: FaqEntry | Article, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    if item.published_revision_id is None:
        return False
    return item.publish_at is None or item.publish_at <= now


def state_of(item: FaqEntry | Article, latest_number: int, published_number: int | None) -> str:
    """The state of ``item`` whose latest revision is ``latest_number`` and published one
    ``published_number`` (``None`` when nothing is published)."""
    if published_number is None:
        return State.DRAFT
    if not is_live(item):
        return State.SCHEDULED
    if latest_number > published_number:
        return State.CHANGED
    return State.PUBLISHED


# --- Editors: FAQ ---------------------------------------------------------------------------


def faq_categories() -> QuerySet[FaqCategory]:
    return FaqCategory.objects.order_by("order", "name")


def _faq_latest() -> QuerySet[FaqRevision]:
    return FaqRevision.objects.filter(entry=OuterRef("pk")).order_by("-number")


def faq_entries_for(user: Any, q: str = "") -> QuerySet[FaqEntry]:
    """Every FAQ entry, in the public order, with its latest revision's number, question and
    save time annotated (``latest_*``); ``q`` searches the latest question and answer. One
    query."""
    require(user, EDIT)
    latest = _faq_latest()
    entries = (
        FaqEntry.objects.select_related("category", "published_revision")
        .annotate(
            latest_number=Subquery(latest.values("number")[:1]),
            latest_question=Subquery(latest.values("question")[:1]),
            latest_answer=Subquery(latest.values("answer")[:1]),
            latest_at=Subquery(latest.values("created_at")[:1]),
            latest_by=Subquery(latest.values("created_by__full_name")[:1]),
        )
        .order_by("category__order", "category__name", "order", "id")
    )
    if q:
        entries = entries.filter(Q(latest_question__icontains=q) | Q(latest_answer__icontains=q))
    return entries


def faq_entry_for(user: Any, public_id: uuid.UUID | str) -> FaqEntry:
    """The FAQ entry an editor opens; 403 without EDIT_CONTENT, 404 if there is none."""
    require(user, EDIT)
    try:
        return FaqEntry.objects.select_related("category", "published_revision").get(
            public_id=public_id
        )
    except (FaqEntry.DoesNotExist, ValueError, ValidationError):
        raise Http404("No such FAQ entry.") from None


def faq_revisions(entry: FaqEntry) -> QuerySet[FaqRevision]:
    """An entry's revisions, newest first, with who saved each. One query."""
    return entry.revisions.select_related("created_by").order_by("-number")


def faq_latest_revision(entry: FaqEntry) -> FaqRevision:
    return faq_revisions(entry).first()


def faq_revision_for(user: Any, entry: FaqEntry, number: int) -> FaqRevision:
    """Revision ``number`` of ``entry``; 404 if the entry has no such revision."""
    require(user, EDIT)
    if not 0 < number <= MAX_REVISION:  # beyond the column's range: no such revision
        raise Http404("This FAQ entry has no such revision.")
    revision = faq_revisions(entry).filter(number=number).first()
    if revision is None:
        raise Http404("This FAQ entry has no such revision.")
    return revision


# --- Editors: articles ----------------------------------------------------------------------


def _article_latest() -> QuerySet[ArticleRevision]:
    return ArticleRevision.objects.filter(article=OuterRef("pk")).order_by("-number")


def articles_for(user: Any, q: str = "") -> QuerySet[Article]:
    """Every article, newest first, with its latest revision's number, title, slug and save
    time annotated (``latest_*``); ``q`` searches the latest title, slug and summary. One
    query."""
    require(user, EDIT)
    latest = _article_latest()
    articles = (
        Article.objects.select_related("published_revision")
        .annotate(
            latest_number=Subquery(latest.values("number")[:1]),
            latest_title=Subquery(latest.values("title")[:1]),
            latest_slug=Subquery(latest.values("slug")[:1]),
            latest_summary=Subquery(latest.values("summary")[:1]),
            latest_at=Subquery(latest.values("created_at")[:1]),
            latest_by=Subquery(latest.values("created_by__full_name")[:1]),
        )
        .order_by("-created_at", "-id")
    )
    if q:
        articles = articles.filter(
            Q(latest_title__icontains=q)
            | Q(latest_slug__icontains=q)
            | Q(latest_summary__icontains=q)
        )
    return articles


def article_for(user: Any, public_id: uuid.UUID | str) -> Article:
    """The article an editor opens; 403 without EDIT_CONTENT, 404 if there is none."""
    require(user, EDIT)
    try:
        return Article.objects.select_related("published_revision").get(public_id=public_id)
    except (Article.DoesNotExist, ValueError, ValidationError):
        raise Http404("No such article.") from None


def article_revisions(article: Article) -> QuerySet[ArticleRevision]:
    return article.revisions.select_related("created_by").order_by("-number")


def article_latest_revision(article: Article) -> ArticleRevision:
    return article_revisions(article).first()


def article_revision_for(user: Any, article: Article, number: int) -> ArticleRevision:
    """Revision ``number`` of ``article``; 404 if the article has no such revision."""
    require(user, EDIT)
    if not 0 < number <= MAX_REVISION:  # beyond the column's range: no such revision
        raise Http404("This article has no such revision.")
    revision = article_revisions(article).filter(number=number).first()
    if revision is None:
        raise Http404("This article has no such revision.")
    return revision


def content_counts(user: Any) -> dict[str, dict[str, int]]:
    """How many FAQ entries and articles are live, scheduled or drafts. Two queries."""
    require(user, EDIT)
    now = timezone.now()
    counts = {}
    for key, model in (("faq", FaqEntry), ("articles", Article)):
        counts[key] = model.objects.aggregate(
            total=Count("id"),
            live=Count("id", filter=_live(now)),
            scheduled=Count("id", filter=Q(published_revision__isnull=False, publish_at__gt=now)),
            drafts=Count("id", filter=Q(published_revision__isnull=True)),
        )
    return counts


# --- The public -----------------------------------------------------------------------------


def faq_published() -> QuerySet[FaqEntry]:
    """Live FAQ entries in page order, each with its category and published revision (read
    ``entry.published_revision.question`` / ``.answer``). One query."""
    return (
        FaqEntry.objects.filter(_live())
        .select_related("category", "published_revision")
        .order_by("category__order", "category__name", "order", "id")
    )


def articles_published() -> QuerySet[Article]:
    """Live articles, most recently published first, each with its published revision. One
    query."""
    return (
        Article.objects.filter(_live())
        .select_related("published_revision")
        .annotate(published_at=Coalesce(F("publish_at"), F("published_revision__created_at")))
        .order_by("-published_at", "-id")
    )


def article_published_by_slug(slug: str) -> Article | str | None:
    """What the public URL ``/learn/<slug>/`` shows: the live ``Article`` with that slug; or,
    for an earlier slug of a live article, the slug to redirect to (a ``str``: answer 301);
    or ``None`` (404: no such article, or not published). At most two queries."""
    article = articles_published().filter(slug=slug).first()
    if article is not None:
        return article
    redirect = (
        ArticleRedirect.objects.filter(slug=slug, article__in=Article.objects.filter(_live()))
        .values_list("article__slug", flat=True)
        .first()
    )
    return redirect or None


# --- Diffs ----------------------------------------------------------------------------------

FAQ_FIELDS = [("question", "Question"), ("answer", "Answer")]
ARTICLE_FIELDS = [
    ("title", "Title"),
    ("slug", "Slug"),
    ("summary", "Summary"),
    ("hero_text", "Hero text"),
    ("body", "Body"),
    ("seo_title", "SEO title"),
    ("seo_description", "SEO description"),
]


@dataclass
class FieldDiff:
    """How one field changed between two revisions: lines marked ``+`` (added), ``-``
    (removed), `` `` (unchanged context) or ``@`` (a gap in the context)."""

    name: str
    label: str
    lines: list[tuple[str, str]] = field(default_factory=list)


def revision_diff(
    old: FaqRevision | ArticleRevision, new: FaqRevision | ArticleRevision
) -> list[FieldDiff]:
    """What changed from ``old`` to ``new``, field by field; unchanged fields are left out."""
    fields = FAQ_FIELDS if isinstance(new, FaqRevision) else ARTICLE_FIELDS
    diffs = []
    for name, label in fields:
        before, after = getattr(old, name), getattr(new, name)
        if before == after:
            continue
        diff = FieldDiff(name=name, label=label)
        lines = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=2)
        for line in lines:
            if line.startswith(("---", "+++")):
                continue
            if line.startswith("@@"):
                diff.lines.append(("@", ""))
            else:
                diff.lines.append((line[:1], line[1:]))
        diffs.append(diff)
    return diffs
