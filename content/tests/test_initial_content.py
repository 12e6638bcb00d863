from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from clinic.models import AuditEvent
from content.initial import (
    ContentModels,
    InitialContentError,
    faq_seed_key,
    load_articles,
    load_faq,
    parse_front_matter,
    seed_content,
)
from content.models import (
    Article,
    ArticleRedirect,
    ArticleRevision,
    FaqCategory,
    FaqEntry,
    FaqRevision,
)
from content.rendering import render_markdown

pytestmark = pytest.mark.django_db

# The topics the issue asks the FAQ to cover, and the question that covers each.
TOPICS = {
    "what it is": "What is ketamine infusion treatment?",
    "how it works": "How does ketamine treatment work?",
    "how long a session is": "How long does a session take?",
    "how many sessions": "How many sessions will I need?",
    "side effects": "What side effects can ketamine cause?",
    "safety": "Is ketamine treatment safe?",
    "addiction": "Is ketamine addictive?",
    "who is a candidate": "Who may be a candidate for ketamine treatment?",
    "who is not": "Who should not have ketamine treatment?",
    "driving afterwards": "Can I drive after my infusion?",
    "therapy and medicines": "Can I keep seeing my therapist and taking my medicines?",
    "the consultation": "What happens at the consultation?",
    "maintenance": "What is maintenance, and will I need booster infusions?",
    "how fast it works": "How quickly does it work?",
    "what to bring": "What should I bring?",
}


def empty_content() -> None:
    """Remove what the migration loaded, to watch the loader start from nothing."""
    FaqEntry.objects.update(published_revision=None)
    Article.objects.update(published_revision=None)
    FaqRevision.objects.all().delete()
    FaqEntry.objects.all().delete()
    FaqCategory.objects.all().delete()
    ArticleRedirect.objects.all().delete()
    ArticleRevision.objects.all().delete()
    Article.objects.all().delete()


def row_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (FaqCategory, FaqEntry, FaqRevision, Article, ArticleRevision, AuditEvent)
    }


def flat(text: str) -> str:
    """The text with its line breaks (the files wrap at 92 columns) as single spaces."""
    return " ".join(text.split())


def all_texts() -> list[tuple[str, str]]:
    """(where, Markdown) for every FAQ answer and article body in the files."""
    texts = [(f"FAQ {e.question!r}", e.answer) for e in load_faq()]
    texts += [(f"article {a.slug}", a.body) for a in load_articles()]
    return texts


def test_the_migration_loaded_the_initial_content_published():
    seeded = FaqEntry.objects.exclude(seed_key="")
    assert seeded.count() == len(load_faq())
    assert not seeded.filter(published_revision=None).exists()
    articles = Article.objects.exclude(seed_key="")
    assert sorted(articles.values_list("slug", flat=True)) == sorted(
        a.slug for a in load_articles()
    )
    assert not articles.filter(published_revision=None).exists()


def test_it_creates_every_entry_and_article_as_published_revision_1():
    empty_content()

    created = seed_content()

    faq, articles = load_faq(), load_articles()
    assert len(faq) >= 15
    assert len(articles) >= 4
    categories = {e.category for e in faq}
    assert 3 <= len(categories) == FaqCategory.objects.count()
    assert created == len(categories) + len(faq) + len(articles)
    for item in faq:
        entry = FaqEntry.objects.get(seed_key=item.seed_key)
        revision = entry.published_revision
        assert (revision.number, revision.created_by, entry.publish_at) == (1, None, None)
        assert (revision.question, revision.answer) == (item.question, item.answer)
        assert entry.category.name == item.category
        assert entry.revisions.count() == 1
    for item in articles:
        article = Article.objects.get(seed_key=f"article:{item.slug}")
        revision = article.published_revision
        assert (revision.number, revision.created_by, article.publish_at) == (1, None, None)
        assert article.slug == revision.slug == item.slug
        assert (revision.title, revision.summary, revision.body) == (
            item.title,
            item.summary,
            item.body,
        )
        assert revision.seo_title and revision.seo_description and revision.hero_text


def test_faq_categories_and_questions_keep_the_files_order():
    empty_content()
    seed_content()

    categories = list(FaqCategory.objects.values_list("name", flat=True))
    assert categories[:2] == ["About the treatment", "Is it right for me?"]
    first = FaqEntry.objects.select_related("published_revision").first()
    assert first.published_revision.question == "What is ketamine infusion treatment?"


def test_every_topic_the_issue_lists_has_a_question():
    questions = {e.question: e for e in load_faq()}
    for topic, question in TOPICS.items():
        assert question in questions, f"no FAQ entry for {topic}"
        assert FaqEntry.objects.filter(seed_key=faq_seed_key(question)).exists()
    # A few answers that must say what they are about.
    assert "Schedule III" in questions[TOPICS["addiction"]].answer
    assert "An adult must take you home" in questions[TOPICS["driving afterwards"]].answer
    assert "six infusions" in questions[TOPICS["how many sessions"]].answer
    assert "45 minutes" in questions[TOPICS["how long a session is"]].answer
    assert "pregnant or breastfeeding" in questions[TOPICS["who is not"]].answer


def test_decisions_are_left_to_the_clinics_physician():
    questions = {e.question: flat(e.answer) for e in load_faq()}
    for topic in ("who is a candidate", "who is not", "the consultation", "therapy and medicines"):
        assert "clinic's physician decides" in questions[TOPICS[topic]], topic
    assert "your clinic's physician decides it" in questions["How is the dose decided?"]


def test_seo_fields_and_every_field_fit_the_model():
    limits = {f.name: f.max_length for f in ArticleRevision._meta.get_fields() if f.concrete}
    for article in load_articles():
        assert 0 < len(article.seo_title) <= 70
        assert 0 < len(article.seo_description) <= 160
        for name in ("title", "slug", "summary", "hero_text"):
            assert 0 < len(getattr(article, name)) <= limits[name], (article.slug, name)
    for entry in load_faq():
        assert len(entry.question) <= FaqRevision._meta.get_field("question").max_length
        assert len(entry.seed_key) <= FaqEntry._meta.get_field("seed_key").max_length
        assert entry.question.endswith("?")


def test_running_it_again_creates_nothing():
    empty_content()
    seed_content()
    before = row_counts()

    assert seed_content() == 0

    assert row_counts() == before


def test_it_never_touches_an_entry_an_editor_changed_unpublished_or_moved(edie):
    edited = FaqEntry.objects.get(seed_key=faq_seed_key(TOPICS["side effects"]))
    revision = FaqRevision.objects.create(
        entry=edited, number=2, question="Side effects?", answer="Our words.", created_by=edie
    )
    edited.published_revision = revision
    edited.save(update_fields=["published_revision"])
    unpublished = FaqEntry.objects.get(seed_key=faq_seed_key(TOPICS["addiction"]))
    unpublished.published_revision = None
    unpublished.save(update_fields=["published_revision"])
    moved = FaqEntry.objects.get(seed_key=faq_seed_key(TOPICS["what to bring"]))
    elsewhere = FaqCategory.objects.create(name="Practical things", slug="practical", order=9)
    moved.category = elsewhere
    moved.order = 7
    moved.save(update_fields=["category", "order"])
    renamed = FaqCategory.objects.get(slug="on-the-day")
    renamed.name = "Your visit"
    renamed.save(update_fields=["name"])
    before = row_counts()

    assert seed_content() == 0

    assert row_counts() == before
    edited.refresh_from_db()
    assert edited.published_revision.answer == "Our words."
    unpublished.refresh_from_db()
    assert unpublished.published_revision is None
    moved.refresh_from_db()
    assert (moved.category, moved.order) == (elsewhere, 7)
    renamed.refresh_from_db()
    assert renamed.name == "Your visit"


def test_it_never_touches_an_article_an_editor_renamed_or_unpublished(edie):
    renamed = Article.objects.get(seed_key="article:myths-and-facts")
    revision = ArticleRevision.objects.create(
        article=renamed,
        number=2,
        title="Truths",
        slug="truths",
        summary="Ours.",
        body="Ours.",
        created_by=edie,
    )
    ArticleRedirect.objects.create(slug="myths-and-facts", article=renamed)
    renamed.slug = "truths"
    renamed.published_revision = revision
    renamed.save(update_fields=["slug", "published_revision"])
    unpublished = Article.objects.get(seed_key="article:after-your-infusion")
    unpublished.published_revision = None
    unpublished.slug = None
    unpublished.save(update_fields=["published_revision", "slug"])
    before = row_counts()

    assert seed_content() == 0

    assert row_counts() == before
    renamed.refresh_from_db()
    assert (renamed.slug, renamed.published_revision.title) == ("truths", "Truths")
    unpublished.refresh_from_db()
    assert (unpublished.slug, unpublished.published_revision) == (None, None)


def test_it_adds_only_what_is_missing():
    missing = FaqEntry.objects.get(seed_key=faq_seed_key(TOPICS["maintenance"]))
    missing.published_revision = None
    missing.save(update_fields=["published_revision"])
    missing.delete()
    Article.objects.filter(seed_key="article:measuring-progress").update(published_revision=None)
    Article.objects.filter(seed_key="article:measuring-progress").delete()
    before = row_counts()

    assert seed_content() == 2

    after = row_counts()
    assert after["FaqEntry"] == before["FaqEntry"] + 1
    assert after["Article"] == before["Article"] + 1
    assert after["FaqCategory"] == before["FaqCategory"]
    assert FaqEntry.objects.get(seed_key=faq_seed_key(TOPICS["maintenance"])).published_revision


def test_it_skips_an_article_whose_address_an_editor_already_uses(edie):
    empty_content()
    own = Article.objects.create(slug="myths-and-facts")
    ArticleRevision.objects.create(
        article=own, number=1, title="Ours", slug="myths-and-facts", summary="s", body="b"
    )

    seed_content()

    assert not Article.objects.filter(seed_key="article:myths-and-facts").exists()
    assert Article.objects.get(slug="myths-and-facts") == own
    assert Article.objects.exclude(seed_key="").count() == len(load_articles()) - 1


def test_it_works_with_the_migrations_historical_models():
    empty_content()
    state = MigrationExecutor(connection).loader.project_state(("content", "0001_faq_and_articles"))
    audit_events = AuditEvent.objects.count()

    created = seed_content(ContentModels.from_apps(state.apps))

    rows = FaqCategory.objects.count() + FaqEntry.objects.count() + Article.objects.count()
    assert created == rows
    assert FaqEntry.objects.filter(published_revision__number=1).count() == len(load_faq())
    # A migration writes no audit events; people's and commands' actions do.
    assert AuditEvent.objects.count() == audit_events


def test_the_command_says_what_it_created_and_audits_it(capsys):
    empty_content()

    call_command("seed_content")

    out = capsys.readouterr().out
    assert "Created and published faq:what-is-ketamine-infusion-treatment" in out
    assert "Created and published article:myths-and-facts" in out
    assert f"{len(load_faq())} FAQ entries and {len(load_articles())} articles created" in out
    events = AuditEvent.objects.filter(summary__contains="seed_content")
    assert events.count() == FaqCategory.objects.count() + len(load_faq()) + len(load_articles())
    assert not events.exclude(actor=None).exists()

    call_command("seed_content")

    assert "0 FAQ categories, 0 FAQ entries and 0 articles created" in capsys.readouterr().out


def test_the_command_warns_about_an_article_it_skipped(capsys):
    empty_content()
    Article.objects.create(slug="your-first-infusion")

    call_command("seed_content")

    out = capsys.readouterr().out
    assert "Skipped article:your-first-infusion" in out


def test_seed_demo_loads_it_too_without_debug(settings):
    settings.DEBUG = False
    empty_content()

    call_command("seed_demo", verbosity=0)

    assert FaqEntry.objects.exclude(seed_key="").count() == len(load_faq())
    assert Article.objects.exclude(seed_key="").count() == len(load_articles())


def test_every_answer_and_body_renders_as_html():
    for where, text in all_texts():
        html = str(render_markdown(text))
        assert "<p>" in html, where
        # No Markdown syntax left showing: the files are valid Markdown.
        assert "**" not in html and "\n#" not in html, where


def test_article_headings_start_under_the_page_title_and_skip_no_level():
    for article in load_articles():
        html = str(render_markdown(article.body))
        levels = [int(level) for level in re.findall(r"<h([1-6])\b", html)]
        assert levels, article.slug
        assert levels[0] == 2, article.slug  # the page's own <h1> is the title
        assert all(b <= a + 1 for a, b in pairwise(levels)), article.slug


def test_faq_answers_have_no_headings_of_their_own():
    for entry in load_faq():
        assert "<h" not in str(render_markdown(entry.answer)), entry.question


DOSE = re.compile(r"\d+(?:[.,]\d+)?\s*(?:mg|milligram|mcg|microgram|ml\b|millilit)", re.I)


def test_the_only_dose_figure_is_domains_general_statement():
    """DOMAIN.md's "0.5 mg/kg over 40 min" once, as general information; nothing else.

    No other amounts of any medicine (e.g. a benzodiazepine threshold), and the answer that
    gives it says the clinic's physician decides the dose.
    """
    figures = [(where, m.group(0)) for where, text in all_texts() for m in DOSE.finditer(text)]
    assert figures == [("FAQ 'How is the dose decided?'", "0.5 mg")]
    answer = next(flat(e.answer) for e in load_faq() if e.question == "How is the dose decided?")
    assert "0.5 mg/kg" in answer
    assert "never asked to work out or take a dose yourself" in answer


def test_nothing_promises_a_cure_or_a_result():
    for where, text in all_texts():
        words = flat(text).lower()
        for match in re.finditer(r"\bcur(?:e|es|ed|ing)\b", words):
            assert words[max(0, match.start() - 6) : match.start()] == "not a ", where
        for match in re.finditer(r"\bguarantee", words):
            assert re.search(r"(no|not|cannot|can't)\s+\S*\s*$", words[: match.start()]), where
    faq = {e.question: e.answer for e in load_faq()}
    assert "not a cure" in faq[TOPICS["what it is"]]
    assert "does not help everyone" in faq[TOPICS["how fast it works"]]


def test_answers_are_short_enough_for_a_phone():
    for entry in load_faq():
        assert len(entry.answer.split()) <= 200, entry.question
    for where, text in all_texts():
        for paragraph in re.split(r"\n\s*\n", text):
            if re.match(r"(- |\d+\. )", paragraph):
                continue  # a list: one short line an item
            assert len(paragraph.split()) <= 80, (where, paragraph[:40])


def test_crisis_help_is_pointed_to_where_thoughts_of_self_harm_come_up():
    for where, text in all_texts():
        words = flat(text)
        if "harming yourself" in words or "hurting yourself" in words:
            assert "crisis line" in words and "emergency number" in words, where


# --- Malformed files are refused with a message that says where -------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_front_matter_problems_are_refused():
    good = (
        "---\ntitle: A title\nslug: a-slug\nsummary: A summary.\n---\nBody.\n",
        {"title": "A title", "slug": "a-slug", "summary": "A summary."},
    )
    meta, body = parse_front_matter(good[0], "x.md")
    assert {k: v for k, v in meta.items() if v} == good[1]
    assert body == "Body.\n"
    bad = {
        "title: A\n---\nBody": "must start with a '---' line",
        "---\ntitle: A\nslug: a\nsummary: s\nBody": "no closing '---'",
        "---\nslug: a\nsummary: s\n---\nBody": "title is missing",
        "---\ntitle: A\nslug: A Slug\nsummary: s\n---\nBody": "not a valid slug",
        "---\ntitle: A\nslug: a\nsummary: s\nauthor: me\n---\nBody": "unexpected front matter",
        "---\ntitle: A\nslug: a\nsummary: s\n---\n\n": "has no body",
        f"---\ntitle: A\nslug: a\nsummary: s\nseo_title: {'x' * 71}\n---\nB": "at most 70",
    }
    for text, message in bad.items():
        with pytest.raises(InitialContentError, match=message):
            parse_front_matter(text, "x.md")


def test_faq_file_problems_are_refused(tmp_path):
    ok = write(tmp_path / "ok.md", "Note.\n\n## Cat\n\n### Q?\n\nA.\n\n#### small\n\nMore.\n")
    [entry] = load_faq(ok)
    assert (entry.category, entry.question, entry.seed_key) == ("Cat", "Q?", "faq:q")
    assert entry.answer == "A.\n\n#### small\n\nMore."
    bad = {
        "### Q?\n\nA.\n": "before any category",
        "## Cat\n\nStray.\n\n### Q?\n\nA.\n": "before its first question",
        "## Cat\n\n### Q?\n\n### R?\n\nA.\n": "has no answer",
        "## Cat\n\n### Q?\n\nA.\n\n### Q?\n\nB.\n": "appears twice",
    }
    for text, message in bad.items():
        with pytest.raises(InitialContentError, match=message):
            load_faq(write(tmp_path / "bad.md", text))
