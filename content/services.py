"""Editing the education content: FAQ entries and articles (EDIT_CONTENT only).

Every save writes a new revision (who and when); saving the same words again writes none.
Publishing points ``published_revision`` at the latest revision, now or from a future
``publish_at`` on; unpublishing takes it off the public site; restoring writes a new revision
with an old one's words (it does not publish it). An article's public slug is its published
revision's: publishing under a new slug keeps the old one as an ``ArticleRedirect``.

Refusals raise ``ValidationError({field: [message]})`` and change nothing. Every write is in
the audit log, and bumps the public pages' cache (``content.cache.bump``).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.http import Http404, HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import User
from clinic.permissions import Capability, require
from content.cache import bump
from content.models import (
    Article,
    ArticleRedirect,
    ArticleRevision,
    FaqCategory,
    FaqEntry,
    FaqRevision,
)
from content.selectors import is_live

EDIT = Capability.EDIT_CONTENT
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SLUG_EXAMPLE = "after-your-infusion"


def _text(errors: dict[str, list[str]], name: str, value: str, max_length: int, required: str):
    """``value`` stripped; a message in ``errors`` if it is empty (when ``required`` says what
    to write) or too long."""
    value = (value or "").strip()
    if required and not value:
        errors.setdefault(name, []).append(required)
    elif len(value) > max_length:
        errors.setdefault(name, []).append(
            f"Shorten this to {max_length} characters or fewer (it has {len(value)})."
        )
    return value


def _refuse(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


# --- FAQ entries ----------------------------------------------------------------------------


@transaction.atomic
def faq_save(
    *,
    actor: User,
    entry: FaqEntry | None = None,
    category: FaqCategory | None,
    question: str,
    answer: str,
    request: HttpRequest | None = None,
) -> FaqEntry:
    """Create an FAQ entry (``entry`` None; last in its category, a draft) or save a new
    revision of one. Moving it to another category puts it last there."""
    require(actor, EDIT)
    errors: dict[str, list[str]] = {}
    if category is None:
        errors["category"] = ["Choose the category this question belongs under."]
    question = _text(
        errors, "question", question, 200, "Enter the question, as a reader would ask it."
    )
    answer = _text(
        errors, "answer", answer, 20_000, "Write the answer (Markdown); it cannot be empty."
    )
    _refuse(errors)
    created = entry is None
    if created:
        entry = FaqEntry.objects.create(category=category, order=_next_order(category))
        latest = None
    else:
        entry = FaqEntry.objects.select_for_update().get(pk=entry.pk)
        latest = entry.revisions.order_by("-number").first()
    changes = []
    if not created and entry.category_id != category.pk:
        entry.category = category
        entry.order = _next_order(category)
        entry.save(update_fields=["category", "order"])
        changes.append(f"moved it to category {category.slug}")
    if latest is None or (latest.question, latest.answer) != (question, answer):
        revision = FaqRevision.objects.create(
            entry=entry,
            number=(latest.number + 1) if latest else 1,
            question=question,
            answer=answer,
            created_by=actor,
        )
        changes.append(f"saved revision {revision.number}")
    if changes:
        audit_record(
            actor=actor,
            action=Action.CREATE if created else Action.UPDATE,
            target=entry,
            summary=("created FAQ entry: " if created else "FAQ entry: ") + ", ".join(changes),
            request=request,
        )
        bump()
    return entry


def _next_order(category: FaqCategory) -> int:
    highest = FaqEntry.objects.filter(category=category).aggregate(m=Max("order"))["m"]
    return 0 if highest is None else highest + 1


@transaction.atomic
def faq_publish(
    *,
    actor: User,
    entry: FaqEntry,
    publish_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> FaqEntry:
    """Publish the entry's latest revision now, or from ``publish_at`` (in the future) on."""
    require(actor, EDIT)
    entry = FaqEntry.objects.select_for_update().get(pk=entry.pk)
    latest = entry.revisions.order_by("-number").first()
    _check_publish_at(entry, publish_at)
    _point_at(entry, latest, publish_at)
    _audit_publish(actor, entry, latest, publish_at, request)
    return entry


@transaction.atomic
def faq_unpublish(*, actor: User, entry: FaqEntry, request: HttpRequest | None = None) -> FaqEntry:
    """Take the entry off the public site (or cancel its schedule). Its revisions stay."""
    require(actor, EDIT)
    entry = FaqEntry.objects.select_for_update().get(pk=entry.pk)
    _unpublish(actor, entry, request)
    return entry


@transaction.atomic
def faq_restore(
    *,
    actor: User,
    entry: FaqEntry,
    revision: FaqRevision,
    request: HttpRequest | None = None,
) -> FaqRevision:
    """Save revision ``revision``'s words as the entry's new latest revision (a draft: publish
    it to show it). A revision of another entry is not found (404)."""
    require(actor, EDIT)
    if revision.entry_id != entry.pk:
        raise Http404("This FAQ entry has no such revision.")
    entry = FaqEntry.objects.select_for_update().get(pk=entry.pk)
    latest = entry.revisions.order_by("-number").first()
    restored = FaqRevision.objects.create(
        entry=entry,
        number=latest.number + 1,
        question=revision.question,
        answer=revision.answer,
        created_by=actor,
        restored_from=revision.number,
    )
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=entry,
        summary=f"FAQ entry: restored revision {revision.number} as revision {restored.number}",
        request=request,
    )
    return restored


@transaction.atomic
def faq_reorder(
    *,
    actor: User,
    entry: FaqEntry,
    direction: Literal["up", "down"],
    request: HttpRequest | None = None,
) -> FaqEntry:
    """Move the entry one place up or down within its category (the first cannot go up,
    nor the last down)."""
    require(actor, EDIT)
    if direction not in ("up", "down"):
        raise ValidationError({"direction": ["Choose to move the question up or down."]})
    entry = FaqEntry.objects.get(pk=entry.pk)
    siblings = list(
        FaqEntry.objects.select_for_update()
        .filter(category_id=entry.category_id)
        .order_by("order", "id")
    )
    index = next(i for i, sibling in enumerate(siblings) if sibling.pk == entry.pk)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(siblings):
        where = "first" if direction == "up" else "last"
        raise ValidationError({"direction": [f"This question is already {where} in its category."]})
    siblings[index], siblings[other] = siblings[other], siblings[index]
    # Number them afresh, so entries that shared an order get distinct places.
    for position, sibling in enumerate(siblings):
        if sibling.order != position:
            sibling.order = position
            sibling.save(update_fields=["order"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=entry,
        summary=f"FAQ entry: moved {direction} to place {other + 1} in category",
        request=request,
    )
    bump()
    return next(s for s in siblings if s.pk == entry.pk)


# --- Articles -------------------------------------------------------------------------------


@transaction.atomic
def article_save(
    *,
    actor: User,
    article: Article | None = None,
    title: str,
    slug: str,
    summary: str,
    body: str,
    hero_text: str = "",
    seo_title: str = "",
    seo_description: str = "",
    request: HttpRequest | None = None,
) -> Article:
    """Create an article (``article`` None; a draft) or save a new revision of one. The slug
    is the article's address once published; no other article may use it, now or as an
    earlier address."""
    require(actor, EDIT)
    errors: dict[str, list[str]] = {}
    words = {
        "title": _text(errors, "title", title, 150, "Enter a title."),
        "slug": _text(
            errors,
            "slug",
            (slug or "").lower(),
            120,
            f"Enter the article's address (slug), e.g. {SLUG_EXAMPLE}.",
        ),
        "summary": _text(
            errors, "summary", summary, 300, "Write a one- or two-sentence summary for lists."
        ),
        "body": _text(errors, "body", body, 100_000, "Write the article (Markdown)."),
        "hero_text": _text(errors, "hero_text", hero_text, 300, ""),
        "seo_title": _text(errors, "seo_title", seo_title, 70, ""),
        "seo_description": _text(errors, "seo_description", seo_description, 160, ""),
    }
    if words["slug"] and "slug" not in errors:
        if not SLUG_PATTERN.match(words["slug"]):
            errors["slug"] = [
                "Use only lowercase letters, numbers and single hyphens between words, e.g. "
                f"{SLUG_EXAMPLE}."
            ]
        elif _slug_taken(words["slug"], article):
            errors["slug"] = [
                f"Another article already uses “{words['slug']}” (or used it before): choose "
                "another slug."
            ]
    _refuse(errors)
    created = article is None
    if created:
        article = Article.objects.create()
        latest = None
    else:
        article = Article.objects.select_for_update().get(pk=article.pk)
        latest = article.revisions.order_by("-number").first()
    if latest is not None and all(getattr(latest, k) == v for k, v in words.items()):
        return article
    revision = ArticleRevision.objects.create(
        article=article,
        number=(latest.number + 1) if latest else 1,
        created_by=actor,
        **words,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE if created else Action.UPDATE,
        target=article,
        summary=f"{'created article: ' if created else 'article: '}saved revision "
        f"{revision.number}",
        request=request,
    )
    return article


def _slug_taken(slug: str, article: Article | None) -> bool:
    """Whether another article has ``slug`` as its address, an earlier address, or the slug
    of its latest (unpublished) revision."""
    others = Article.objects.all() if article is None else Article.objects.exclude(pk=article.pk)
    if others.filter(slug=slug).exists():
        return True
    if ArticleRedirect.objects.filter(slug=slug, article__in=others).exists():
        return True
    latest_slugs = (
        ArticleRevision.objects.filter(article__in=others)
        .order_by("article_id", "-number")
        .distinct("article_id")
        .values("slug")
    )
    return ArticleRevision.objects.filter(slug=slug, slug__in=latest_slugs).exists()


@transaction.atomic
def article_publish(
    *,
    actor: User,
    article: Article,
    publish_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> Article:
    """Publish the article's latest revision now, or from ``publish_at`` (in the future) on.
    A new slug becomes its address and the old one redirects to it."""
    require(actor, EDIT)
    article = Article.objects.select_for_update().get(pk=article.pk)
    latest = article.revisions.order_by("-number").first()
    _check_publish_at(article, publish_at)
    old_slug = article.slug
    if latest.slug != old_slug:
        if _slug_taken(latest.slug, article):
            raise ValidationError(
                {
                    "slug": [
                        f"Another article now uses “{latest.slug}”: change this article's "
                        "slug, save, and publish again."
                    ]
                }
            )
        # Its own earlier address becomes its address again: no redirect from it any more.
        article.redirects.filter(slug=latest.slug).delete()
        if old_slug:
            ArticleRedirect.objects.create(slug=old_slug, article=article)
        article.slug = latest.slug
        article.save(update_fields=["slug"])
    _point_at(article, latest, publish_at)
    _audit_publish(actor, article, latest, publish_at, request)
    if old_slug and old_slug != article.slug:
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            target=article,
            summary=f"article: address changed from {old_slug} to {article.slug} (old one "
            "redirects)",
            request=request,
        )
    return article


@transaction.atomic
def article_unpublish(
    *, actor: User, article: Article, request: HttpRequest | None = None
) -> Article:
    """Take the article off the public site (or cancel its schedule). Its address stays
    reserved for it, and its revisions stay."""
    require(actor, EDIT)
    article = Article.objects.select_for_update().get(pk=article.pk)
    _unpublish(actor, article, request)
    return article


@transaction.atomic
def article_restore(
    *,
    actor: User,
    article: Article,
    revision: ArticleRevision,
    request: HttpRequest | None = None,
) -> ArticleRevision:
    """Save an old revision's words as the article's new latest revision (publish it to show
    it). A revision of another article is not found (404); an old slug another article has
    taken since is refused."""
    require(actor, EDIT)
    if revision.article_id != article.pk:
        raise Http404("This article has no such revision.")
    if _slug_taken(revision.slug, article):
        raise ValidationError(
            {
                "slug": [
                    f"Revision {revision.number}'s slug “{revision.slug}” is used by another "
                    "article now. Edit the article instead, with another slug."
                ]
            }
        )
    article = Article.objects.select_for_update().get(pk=article.pk)
    latest = article.revisions.order_by("-number").first()
    restored = ArticleRevision.objects.create(
        article=article,
        number=latest.number + 1,
        title=revision.title,
        slug=revision.slug,
        summary=revision.summary,
        hero_text=revision.hero_text,
        body=revision.body,
        seo_title=revision.seo_title,
        seo_description=revision.seo_description,
        created_by=actor,
        restored_from=revision.number,
    )
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=article,
        summary=f"article: restored revision {revision.number} as revision {restored.number}",
        request=request,
    )
    return restored


# --- Publishing, shared ---------------------------------------------------------------------


def _check_publish_at(item: FaqEntry | Article, publish_at: datetime | None) -> None:
    if publish_at is None:
        return
    if publish_at <= timezone.now():
        raise ValidationError(
            {"publish_at": ["That time has passed. Choose a time in the future, or publish now."]}
        )
    if is_live(item):
        # One published revision at a time: scheduling a change would take the live words
        # off the site until then.
        raise ValidationError(
            {
                "publish_at": [
                    "This is on the public site now, and scheduling would take it off until "
                    "then. Publish the change now instead, or unpublish it first."
                ]
            }
        )


def _point_at(
    item: FaqEntry | Article, revision: FaqRevision | ArticleRevision, publish_at: datetime | None
) -> None:
    item.published_revision = revision
    item.publish_at = publish_at
    item.save(update_fields=["published_revision", "publish_at"])
    bump()


def _audit_publish(
    actor: User,
    item: FaqEntry | Article,
    revision: FaqRevision | ArticleRevision,
    publish_at: datetime | None,
    request: HttpRequest | None,
) -> None:
    what = "FAQ entry" if isinstance(item, FaqEntry) else "article"
    when = f"scheduled for {publish_at.isoformat()}" if publish_at else "now"
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=item,
        summary=f"{what}: published revision {revision.number} {when}",
        request=request,
    )


def _unpublish(actor: User, item: FaqEntry | Article, request: HttpRequest | None) -> None:
    what = "FAQ entry" if isinstance(item, FaqEntry) else "article"
    if item.published_revision_id is None:
        raise ValidationError({"__all__": [f"This {what} is not published: nothing to take off."]})
    item.published_revision = None
    item.publish_at = None
    item.save(update_fields=["published_revision", "publish_at"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=item,
        summary=f"{what}: unpublished",
        request=request,
    )
    bump()
