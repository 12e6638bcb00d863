"""The initial FAQ and articles, so a new clinic's public site has something to say.

The words live in Markdown files next to this module:

- ``content/initial/faq.md``: ``## Category`` headings, each followed by ``### Question``
  headings whose answer is everything up to the next heading. Text before the first
  category is a note for whoever edits the file and is not loaded.
- ``content/initial/articles/*.md``: a front matter block between two ``---`` lines
  (``title``, ``slug``, ``summary``, ``hero_text``, ``seo_title``, ``seo_description``, one
  ``key: value`` a line), then the Markdown body.

``seed_content()`` creates what does not exist yet, each entry and article published as
revision 1 with no author, and tells them apart by ``seed_key`` (``faq:<slug of the
question>``, ``article:<slug>``). Whatever already has its seed key is left exactly as it
is, whatever an editor did to it since (new revisions, unpublishing, another category or
order): the seed key stays on the row, so the loader never touches it again. There is no
delete for content, only unpublishing; a row removed from the database by other means would
come back at the next run.

It runs from three places: the data migration ``content/migrations/0002_initial_content.py``
(so a fresh install has the content), ``manage.py seed_content`` and ``manage.py seed_demo``.
The migration passes its historical models (``ContentModels.from_apps(apps)``), so nothing
here imports ``content.models``, and the loader only uses fields that exist in migration
0001: if the models grow a required field, pin that migration to its own copy of the loader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

INITIAL_DIR = Path(__file__).resolve().parent / "initial"
FAQ_FILE = INITIAL_DIR / "faq.md"
ARTICLES_DIR = INITIAL_DIR / "articles"

SEED_KEY_MAX = 80  # FaqEntry.seed_key / Article.seed_key
FRONT_MATTER_FIELDS = {
    # name: (required, max length), as in ArticleRevision
    "title": (True, 150),
    "slug": (True, 120),
    "summary": (True, 300),
    "hero_text": (False, 300),
    "seo_title": (False, 70),
    "seo_description": (False, 160),
}
QUESTION_MAX = 200  # FaqRevision.question
CATEGORY_NAME_MAX = 80  # FaqCategory.name


class InitialContentError(ValueError):
    """A file under content/initial/ is not in the expected shape (a bug in the files)."""


@dataclass(frozen=True)
class SeedFaq:
    category: str
    category_slug: str
    category_order: int
    order: int
    question: str
    answer: str

    @property
    def seed_key(self) -> str:
        return faq_seed_key(self.question)


@dataclass(frozen=True)
class SeedArticle:
    title: str
    slug: str
    summary: str
    hero_text: str
    seo_title: str
    seo_description: str
    body: str

    @property
    def seed_key(self) -> str:
        return f"article:{self.slug}"


def faq_seed_key(question: str) -> str:
    return ("faq:" + slugify(question))[:SEED_KEY_MAX]


# --- Reading the files ---------------------------------------------------------------------

HEADING = re.compile(r"^(#{2,3})\s+(.+?)\s*#*\s*$")


def load_faq(path: Path = FAQ_FILE) -> list[SeedFaq]:
    """The FAQ file's questions in file order; raises InitialContentError if malformed."""
    entries: list[SeedFaq] = []
    category: str | None = None
    categories = 0
    order = 0
    question: str | None = None
    answer: list[str] = []

    def finish() -> None:
        if question is None:
            return
        text = "\n".join(answer).strip()
        if not text:
            raise InitialContentError(f"{path.name}: the question {question!r} has no answer.")
        entries.append(
            SeedFaq(
                category=category or "",
                category_slug=slugify(category),
                category_order=categories,
                order=order,
                question=question,
                answer=text,
            )
        )

    for line in path.read_text(encoding="utf-8").splitlines():
        heading = HEADING.match(line)
        if heading and heading.group(1) == "##":
            finish()
            question, answer = None, []
            category = heading.group(2)
            if len(category) > CATEGORY_NAME_MAX:
                raise InitialContentError(f"{path.name}: category {category!r} is too long.")
            categories += 1
            order = 0
        elif heading:
            if category is None:
                raise InitialContentError(f"{path.name}: a question comes before any category.")
            finish()
            question, answer = heading.group(2), []
            if len(question) > QUESTION_MAX:
                raise InitialContentError(f"{path.name}: question {question!r} is too long.")
            order += 1
        elif question is not None:
            answer.append(line)
        elif category is not None and line.strip():
            raise InitialContentError(
                f"{path.name}: text under category {category!r} before its first question."
            )
    finish()
    _refuse_duplicates([entry.seed_key for entry in entries], path.name)
    return entries


def parse_front_matter(text: str, source: str) -> tuple[dict[str, str], str]:
    """Split ``---``-fenced ``key: value`` lines from the Markdown body that follows."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise InitialContentError(f"{source}: the file must start with a '---' line.")
    try:
        end = next(i for i, line in enumerate(lines[1:], start=1) if line.strip() == "---")
    except StopIteration:
        raise InitialContentError(f"{source}: the front matter has no closing '---'.") from None
    meta: dict[str, str] = {}
    for line in lines[1:end]:
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or key not in FRONT_MATTER_FIELDS:
            raise InitialContentError(f"{source}: unexpected front matter line {line!r}.")
        if key in meta:
            raise InitialContentError(f"{source}: {key} is given twice.")
        meta[key] = value.strip()
    for key, (required, max_length) in FRONT_MATTER_FIELDS.items():
        value = meta.setdefault(key, "")
        if required and not value:
            raise InitialContentError(f"{source}: {key} is missing.")
        if len(value) > max_length:
            raise InitialContentError(
                f"{source}: {key} has {len(value)} characters; at most {max_length}."
            )
    if slugify(meta["slug"]) != meta["slug"]:
        raise InitialContentError(f"{source}: slug {meta['slug']!r} is not a valid slug.")
    body = "\n".join(lines[end + 1 :]).strip()
    if not body:
        raise InitialContentError(f"{source}: the article has no body.")
    return meta, body + "\n"


def load_articles(directory: Path = ARTICLES_DIR) -> list[SeedArticle]:
    """The articles in file name order; raises InitialContentError if one is malformed."""
    articles = []
    for path in sorted(directory.glob("*.md")):
        meta, body = parse_front_matter(path.read_text(encoding="utf-8"), path.name)
        articles.append(SeedArticle(body=body, **meta))
    _refuse_duplicates([article.seed_key for article in articles], directory.name)
    return articles


def _refuse_duplicates(keys: list[str], source: str) -> None:
    seen: set[str] = set()
    for key in keys:
        if key in seen:
            raise InitialContentError(f"{source}: {key} appears twice.")
        seen.add(key)


# --- Writing what is missing ------------------------------------------------------------

MODEL_NAMES = ("FaqCategory", "FaqEntry", "FaqRevision", "Article", "ArticleRevision")


@dataclass(frozen=True)
class ContentModels:
    """The model classes the loader writes with: the real ones, or a migration's."""

    FaqCategory: Any
    FaqEntry: Any
    FaqRevision: Any
    Article: Any
    ArticleRevision: Any
    ArticleRedirect: Any

    @classmethod
    def from_apps(cls, apps: Any) -> ContentModels:
        """From an app registry: ``django.apps.apps`` or a migration's ``apps``."""
        names = (*MODEL_NAMES, "ArticleRedirect")
        return cls(**{name: apps.get_model("content", name) for name in names})


@dataclass
class SeedResult:
    """What one run did, by seed key (categories by slug)."""

    categories: list[str] = field(default_factory=list)
    entries: list[str] = field(default_factory=list)
    articles: list[str] = field(default_factory=list)
    # Articles not created because another article or redirect already uses their slug.
    skipped: list[str] = field(default_factory=list)

    @property
    def created(self) -> int:
        return len(self.categories) + len(self.entries) + len(self.articles)


def seed_content(models: ContentModels | None = None) -> int:
    """Create the initial FAQ categories, entries and articles that do not exist yet.

    Returns how many rows it created (categories, entries and articles); 0 when run again.
    """
    return seed_content_result(models).created


@transaction.atomic
def seed_content_result(models: ContentModels | None = None) -> SeedResult:
    """``seed_content``, saying what it created and skipped.

    With the real models (``models`` not given) each creation is also written to the
    audit log; a migration's run is not (it runs before anyone can act, and the revisions
    record it: revision 1, no author).
    """
    audit = models is None
    if models is None:
        from django.apps import apps

        models = ContentModels.from_apps(apps)
    result = SeedResult()
    now = timezone.now()
    created_rows: list[Any] = []

    faq = load_faq()
    existing = set(
        models.FaqEntry.objects.filter(seed_key__in=[e.seed_key for e in faq]).values_list(
            "seed_key", flat=True
        )
    )
    categories: dict[str, Any] = {}
    for item in faq:
        if item.seed_key in existing:
            continue
        category = categories.get(item.category_slug)
        if category is None:
            category = _category(models, item, result, created_rows)
            categories[item.category_slug] = category
        entry = models.FaqEntry.objects.create(
            category=category, order=item.order, seed_key=item.seed_key, created_at=now
        )
        revision = models.FaqRevision.objects.create(
            entry=entry,
            number=1,
            question=item.question,
            answer=item.answer,
            created_by=None,
            created_at=now,
        )
        entry.published_revision = revision
        entry.save(update_fields=["published_revision"])
        result.entries.append(item.seed_key)
        created_rows.append(entry)

    for item in load_articles():
        if models.Article.objects.filter(seed_key=item.seed_key).exists():
            continue
        if _slug_taken(models, item.slug):
            result.skipped.append(item.seed_key)
            continue
        article = models.Article.objects.create(
            slug=item.slug, seed_key=item.seed_key, created_at=now
        )
        revision = models.ArticleRevision.objects.create(
            article=article,
            number=1,
            title=item.title,
            slug=item.slug,
            summary=item.summary,
            hero_text=item.hero_text,
            body=item.body,
            seo_title=item.seo_title,
            seo_description=item.seo_description,
            created_by=None,
            created_at=now,
        )
        article.published_revision = revision
        article.save(update_fields=["published_revision"])
        result.articles.append(item.seed_key)
        created_rows.append(article)

    if audit and created_rows:
        _audit(created_rows)
    return result


def _category(models: ContentModels, item: SeedFaq, result: SeedResult, created: list) -> Any:
    """The category by slug (or by name, which is unique too), created if missing."""
    category = (
        models.FaqCategory.objects.filter(slug=item.category_slug).first()
        or models.FaqCategory.objects.filter(name__iexact=item.category).first()
    )
    if category is None:
        category = models.FaqCategory.objects.create(
            name=item.category, slug=item.category_slug, order=item.category_order
        )
        result.categories.append(item.category_slug)
        created.append(category)
    return category


def _slug_taken(models: ContentModels, slug: str) -> bool:
    # Another article's current, earlier (redirect) or draft slug: never steal a URL.
    return (
        models.Article.objects.filter(slug=slug).exists()
        or models.ArticleRedirect.objects.filter(slug=slug).exists()
        or models.ArticleRevision.objects.filter(slug=slug).exists()
    )


def _audit(created_rows: list[Any]) -> None:
    from clinic.audit import Action, audit_record

    for row in created_rows:
        audit_record(
            actor=None,
            action=Action.CREATE,
            target=row,
            summary="created from the initial content (seed_content)",
        )
