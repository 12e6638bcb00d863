"""Editing the education content: revisions, publishing (now and scheduled), reordering,
restoring, slugs and redirects, and the public reads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils import timezone

from clinic.models import AuditEvent
from content import selectors, services
from content.models import Article, ArticleRedirect, FaqCategory, FaqEntry, FaqRevision

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_initial_content(db):
    """Start from no content (the initial content's migration loads some)."""
    FaqEntry.objects.update(published_revision=None)
    FaqEntry.objects.all().delete()
    FaqCategory.objects.all().delete()
    Article.objects.update(published_revision=None)
    Article.objects.all().delete()


def category(slug: str = "treatment", order: int = 0) -> FaqCategory:
    return FaqCategory.objects.create(name=slug.title(), slug=slug, order=order)


def faq(actor, cat: FaqCategory, question: str = "How long is a session?", **kw) -> FaqEntry:
    return services.faq_save(
        actor=actor, category=cat, question=question, answer=kw.get("answer", "About two hours.")
    )


def article(actor, slug: str = "after-your-infusion", **kw) -> Article:
    fields = {"title": "After your infusion", "summary": "What to expect.", "body": "Rest."}
    return services.article_save(actor=actor, slug=slug, **{**fields, **kw})


# --- FAQ: saving and revisions ---------------------------------------------------------------


def test_it_saves_every_change_as_a_revision_with_who_and_when(edie, alice):
    entry = faq(edie, category())
    services.faq_save(
        actor=alice, entry=entry, category=entry.category, question="How long?", answer="2 h."
    )

    revisions = list(entry.revisions.order_by("number"))
    assert [(r.number, r.question, r.created_by) for r in revisions] == [
        (1, "How long is a session?", edie),
        (2, "How long?", alice),
    ]
    assert all(r.created_at for r in revisions)
    assert entry.published_revision is None  # a new entry is a draft


def test_saving_the_same_words_writes_no_revision(edie):
    entry = faq(edie, category())

    services.faq_save(
        actor=edie,
        entry=entry,
        category=entry.category,
        question=" How long is a session? ",
        answer="About two hours.",
    )

    assert entry.revisions.count() == 1


def test_it_audits_every_write(edie):
    cat = category()
    entry = faq(edie, cat)
    faq(edie, cat, question="Second?")
    services.faq_publish(actor=edie, entry=entry)
    services.faq_reorder(actor=edie, entry=entry, direction="down")
    services.faq_restore(actor=edie, entry=entry, revision=entry.revisions.get())
    services.faq_unpublish(actor=edie, entry=entry)

    summaries = list(
        AuditEvent.objects.filter(object_id=str(entry.public_id))
        .order_by("id")
        .values_list("actor__email", "summary")
    )
    assert [s for _a, s in summaries] == [
        "created FAQ entry: saved revision 1",
        "FAQ entry: published revision 1 now",
        "FAQ entry: moved down to place 2 in category",
        "FAQ entry: restored revision 1 as revision 2",
        "FAQ entry: unpublished",
    ]
    assert {a for a, _s in summaries} == {"edie@clinic.test"}


@pytest.mark.parametrize(
    ("question", "answer", "field", "message"),
    [
        ("   ", "An answer.", "question", "Enter the question"),
        ("A question?", "", "answer", "cannot be empty"),
        ("x" * 201, "An answer.", "question", "200 characters or fewer"),
    ],
)
def test_it_refuses_an_empty_or_too_long_question_or_answer(edie, question, answer, field, message):
    entry = faq(edie, category())

    with pytest.raises(ValidationError) as caught:
        services.faq_save(
            actor=edie, entry=entry, category=entry.category, question=question, answer=answer
        )

    assert message in " ".join(caught.value.message_dict[field])
    assert entry.revisions.count() == 1
    assert not AuditEvent.objects.filter(summary__contains="revision 2").exists()


def test_it_refuses_a_new_entry_without_a_category(edie):
    with pytest.raises(ValidationError) as caught:
        services.faq_save(actor=edie, category=None, question="Q?", answer="A.")

    assert "category" in caught.value.message_dict
    assert not FaqEntry.objects.exists()


@pytest.mark.parametrize("persona", ["fran", "nina", "phil"])
def test_only_admins_and_content_editors_edit(request, persona, edie):
    someone = request.getfixturevalue(persona)
    entry = faq(edie, category())

    with pytest.raises(PermissionDenied):
        faq(someone, entry.category, question="Sneaky?")
    with pytest.raises(PermissionDenied):
        services.faq_publish(actor=someone, entry=entry)
    with pytest.raises(PermissionDenied):
        selectors.faq_entry_for(someone, entry.public_id)

    assert FaqEntry.objects.count() == 1
    assert FaqEntry.objects.get().published_revision is None


# --- Publishing --------------------------------------------------------------------------


def test_a_draft_is_not_public_until_published(edie):
    entry = faq(edie, category())
    assert list(selectors.faq_published()) == []

    services.faq_publish(actor=edie, entry=entry)

    assert [e.published_revision.question for e in selectors.faq_published()] == [
        "How long is a session?"
    ]


def test_the_public_sees_the_published_revision_not_later_drafts(edie):
    entry = faq(edie, category())
    services.faq_publish(actor=edie, entry=entry)
    services.faq_save(
        actor=edie, entry=entry, category=entry.category, question="Draft wording?", answer="x"
    )

    (shown,) = selectors.faq_published()
    assert shown.published_revision.question == "How long is a session?"
    state = selectors.state_of(shown, 2, shown.published_revision.number)
    assert state == selectors.State.CHANGED


def test_a_scheduled_entry_goes_live_when_its_time_comes(edie):
    entry = faq(edie, category())
    at = timezone.now() + timedelta(hours=2)

    services.faq_publish(actor=edie, entry=entry, publish_at=at)

    entry.refresh_from_db()
    assert entry.publish_at == at
    assert selectors.state_of(entry, 1, 1) == selectors.State.SCHEDULED
    assert list(selectors.faq_published()) == []
    FaqEntry.objects.filter(pk=entry.pk).update(publish_at=timezone.now() - timedelta(seconds=1))
    assert [e.pk for e in selectors.faq_published()] == [entry.pk]


def test_it_refuses_a_schedule_in_the_past(edie):
    entry = faq(edie, category())

    with pytest.raises(ValidationError) as caught:
        services.faq_publish(
            actor=edie, entry=entry, publish_at=timezone.now() - timedelta(minutes=1)
        )

    assert "That time has passed" in caught.value.message_dict["publish_at"][0]
    entry.refresh_from_db()
    assert entry.published_revision is None


def test_it_refuses_to_schedule_a_change_to_a_live_entry(edie):
    entry = faq(edie, category())
    services.faq_publish(actor=edie, entry=entry)
    faq_edit = services.faq_save(
        actor=edie, entry=entry, category=entry.category, question="New?", answer="A."
    )

    with pytest.raises(ValidationError) as caught:
        services.faq_publish(
            actor=edie, entry=faq_edit, publish_at=timezone.now() + timedelta(days=1)
        )

    assert "take it off" in caught.value.message_dict["publish_at"][0]
    entry.refresh_from_db()
    assert (entry.published_revision.number, entry.publish_at) == (1, None)


def test_unpublishing_takes_it_off_and_keeps_its_revisions(edie):
    entry = faq(edie, category())
    services.faq_publish(actor=edie, entry=entry)

    services.faq_unpublish(actor=edie, entry=entry)

    assert list(selectors.faq_published()) == []
    assert entry.revisions.count() == 1
    with pytest.raises(ValidationError):
        services.faq_unpublish(actor=edie, entry=entry)


def test_publishing_bumps_the_public_cache(edie, monkeypatch):
    bumped = []
    monkeypatch.setattr(services, "bump", lambda: bumped.append(1))
    entry = faq(edie, category())
    bumped.clear()

    services.faq_publish(actor=edie, entry=entry)

    assert bumped


# --- Reordering and restoring --------------------------------------------------------------


def test_it_moves_an_entry_up_and_down_within_its_category(edie):
    cat, other = category(), category("safety", order=1)
    first, second, third = (faq(edie, cat, question=f"Q{n}?") for n in (1, 2, 3))
    elsewhere = faq(edie, other, question="Elsewhere?")

    services.faq_reorder(actor=edie, entry=third, direction="up")

    order = list(
        FaqEntry.objects.filter(category=cat).order_by("order").values_list("pk", flat=True)
    )
    assert order == [first.pk, third.pk, second.pk]
    with pytest.raises(ValidationError) as caught:
        services.faq_reorder(actor=edie, entry=first, direction="up")
    assert "already first" in caught.value.message_dict["direction"][0]
    with pytest.raises(ValidationError):
        services.faq_reorder(actor=edie, entry=elsewhere, direction="down")
    with pytest.raises(ValidationError):
        services.faq_reorder(actor=edie, entry=first, direction="sideways")  # type: ignore[arg-type]


def test_restoring_writes_a_new_revision_with_the_old_words(edie):
    entry = faq(edie, category(), answer="Original.")
    services.faq_save(
        actor=edie, entry=entry, category=entry.category, question="Changed?", answer="Changed."
    )

    restored = services.faq_restore(actor=edie, entry=entry, revision=entry.revisions.get(number=1))

    assert (restored.number, restored.question, restored.answer, restored.restored_from) == (
        3,
        "How long is a session?",
        "Original.",
        1,
    )
    assert entry.revisions.count() == 3


def test_restoring_a_revision_of_another_entry_is_not_found(edie):
    cat = category()
    entry, other = faq(edie, cat), faq(edie, cat, question="Other?")

    with pytest.raises(Http404):
        services.faq_restore(actor=edie, entry=entry, revision=other.revisions.get())
    with pytest.raises(Http404):
        selectors.faq_revision_for(edie, entry, 2)

    assert FaqRevision.objects.count() == 2


def test_revision_diff_shows_what_changed_line_by_line(edie):
    entry = faq(edie, category(), answer="Line one.\nLine two.")
    services.faq_save(
        actor=edie,
        entry=entry,
        category=entry.category,
        question="How long is a session?",
        answer="Line one.\nLine 2.",
    )
    old, new = entry.revisions.order_by("number")

    (answer,) = selectors.revision_diff(old, new)

    assert answer.name == "answer"
    assert ("-", "Line two.") in answer.lines
    assert ("+", "Line 2.") in answer.lines
    assert (" ", "Line one.") in answer.lines


# --- Articles, slugs and redirects ---------------------------------------------------------


@pytest.mark.parametrize("slug", ["After Your Infusion", "after_your_infusion", "-lead", "a--b"])
def test_it_refuses_a_slug_that_is_not_a_slug(edie, slug):
    with pytest.raises(ValidationError) as caught:
        article(edie, slug=slug)

    assert "lowercase letters" in caught.value.message_dict["slug"][0]
    assert not Article.objects.exists()


def test_it_refuses_a_slug_another_article_uses_or_used(edie):
    first = article(edie, slug="first")
    services.article_publish(actor=edie, article=first)
    services.article_save(
        actor=edie, article=first, title="T", slug="renamed", summary="S", body="B"
    )
    services.article_publish(actor=edie, article=first)  # "first" now redirects
    article(edie, slug="drafted")

    for taken in ("renamed", "first", "drafted"):
        with pytest.raises(ValidationError) as caught:
            article(edie, slug=taken)
        assert "Another article already uses" in caught.value.message_dict["slug"][0]
    assert Article.objects.count() == 2


def test_a_changed_slug_redirects_from_the_old_address(edie):
    item = article(edie, slug="old-address")
    services.article_publish(actor=edie, article=item)
    services.article_save(
        actor=edie, article=item, title="New", slug="new-address", summary="S", body="B"
    )

    # Until the change is published, the old address is still the address.
    assert selectors.article_published_by_slug("old-address").pk == item.pk
    services.article_publish(actor=edie, article=item)

    assert selectors.article_published_by_slug("new-address").pk == item.pk
    assert selectors.article_published_by_slug("old-address") == "new-address"
    assert ArticleRedirect.objects.get().article == item
    # Going back to the old slug removes its redirect and redirects from the newer one.
    services.article_save(
        actor=edie, article=item, title="New", slug="old-address", summary="S", body="B"
    )
    services.article_publish(actor=edie, article=item)
    assert selectors.article_published_by_slug("old-address").pk == item.pk
    assert selectors.article_published_by_slug("new-address") == "old-address"
    assert list(ArticleRedirect.objects.values_list("slug", flat=True)) == ["new-address"]


def test_a_draft_article_is_not_found_by_the_public(edie):
    item = article(edie)

    assert selectors.article_published_by_slug("after-your-infusion") is None
    services.article_publish(actor=edie, article=item)
    services.article_unpublish(actor=edie, article=item)
    assert selectors.article_published_by_slug("after-your-infusion") is None
    assert list(selectors.articles_published()) == []


def test_restoring_an_article_restores_every_field(edie):
    item = article(edie, hero_text="Hero", seo_title="SEO")
    services.article_save(
        actor=edie, article=item, title="Other", slug="other", summary="S2", body="B2"
    )

    restored = services.article_restore(
        actor=edie, article=item, revision=item.revisions.get(number=1)
    )

    assert (restored.title, restored.slug, restored.hero_text, restored.seo_title) == (
        "After your infusion",
        "after-your-infusion",
        "Hero",
        "SEO",
    )
    other = article(edie, slug="another")
    with pytest.raises(Http404):
        services.article_restore(actor=edie, article=other, revision=restored)


def test_public_reads_run_a_constant_number_of_queries(edie, django_assert_num_queries):
    cat = category()
    for n in range(5):
        services.faq_publish(actor=edie, entry=faq(edie, cat, question=f"Q{n}?"))
        services.article_publish(actor=edie, article=article(edie, slug=f"a-{n}"))

    with django_assert_num_queries(1):
        assert len([e.published_revision.answer for e in selectors.faq_published()]) == 5
    with django_assert_num_queries(1):
        assert len([a.published_revision.title for a in selectors.articles_published()]) == 5
    with django_assert_num_queries(1):
        assert selectors.article_published_by_slug("a-3").published_revision.title
