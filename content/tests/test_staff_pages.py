"""The staff content pages under /staff/content/: lists, editing with live preview,
publishing, reordering, revisions, diffs, restoring and the editor's preview of drafts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from content import services
from content.models import Article, ArticleRedirect, FaqCategory, FaqEntry

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_initial_content(db):
    """Start from no content (the initial content's migration loads some)."""
    FaqEntry.objects.update(published_revision=None)
    FaqEntry.objects.all().delete()
    FaqCategory.objects.all().delete()
    Article.objects.update(published_revision=None)
    Article.objects.all().delete()


@pytest.fixture
def treatment(db) -> FaqCategory:
    return FaqCategory.objects.create(name="Treatment", slug="treatment")


@pytest.fixture
def entry(edie, treatment) -> FaqEntry:
    return services.faq_save(
        actor=edie, category=treatment, question="How long is a session?", answer="About *two*."
    )


@pytest.fixture
def editor(client, edie):
    client.force_login(edie)
    return client


def _article(actor, slug="after-your-infusion") -> Article:
    return services.article_save(
        actor=actor, title="After your infusion", slug=slug, summary="What next.", body="Rest."
    )


# --- Access -------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["fran", "nina", "phil"])
def test_only_admins_and_content_editors_reach_the_pages(request, client, persona, entry):
    client.force_login(request.getfixturevalue(persona))
    edit = f"/staff/content/faq/{entry.public_id}/"

    assert client.get("/staff/content/").status_code == 403
    assert client.get(edit).status_code == 403
    assert client.get(f"{edit}preview/").status_code == 403
    response = client.post(f"{edit}publish/", {"when": "now"})
    assert response.status_code == 403
    assert client.post("/staff/content/preview/?field=answer", {"answer": "x"}).status_code == 403
    entry.refresh_from_db()
    assert entry.published_revision is None


def test_admins_edit_content_too(client, alice, entry):
    client.force_login(alice)

    response = client.get(f"/staff/content/faq/{entry.public_id}/")

    assert response.status_code == 200
    assert "How long is a session?" in response.content.decode()


def test_a_missing_entry_is_not_found(editor):
    assert editor.get("/staff/content/faq/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert editor.get("/staff/content/articles/not-a-uuid/").status_code == 404


# --- Lists ------------------------------------------------------------------------------


def test_the_faq_list_shows_states_and_searches(editor, edie, treatment):
    live = services.faq_save(actor=edie, category=treatment, question="Is it safe?", answer="A.")
    services.faq_publish(actor=edie, entry=live)
    services.faq_save(actor=edie, category=treatment, question="Can I drive?", answer="No.")

    page = editor.get("/staff/content/faq/").content.decode()
    found = editor.get("/staff/content/faq/?q=drive").content.decode()

    assert "Is it safe?" in page and "Can I drive?" in page
    assert ">Published<" in page and ">Draft<" in page
    assert "Can I drive?" in found and "Is it safe?" not in found


def test_the_staff_lists_run_a_constant_number_of_queries(
    editor, edie, treatment, django_assert_max_num_queries
):
    for n in range(12):
        entry = services.faq_save(actor=edie, category=treatment, question=f"Q{n}?", answer="A")
        services.faq_publish(actor=edie, entry=entry)
        services.article_publish(actor=edie, article=_article(edie, slug=f"a-{n}"))

    # Session, user, count, page, and the session's save (3): the same for 12 as for 1.
    with django_assert_max_num_queries(7):
        response = editor.get("/staff/content/faq/")
    assert response.content.decode().count('id="entry-') == 12
    with django_assert_max_num_queries(7):
        response = editor.get("/staff/content/articles/")
    assert response.content.decode().count("/learn/a-") == 12
    with django_assert_max_num_queries(7):
        assert editor.get("/staff/content/").status_code == 200


# --- Editing, preview -------------------------------------------------------------------


def test_an_editor_writes_a_new_question_as_a_draft(editor, treatment):
    response = editor.post(
        "/staff/content/faq/new/",
        {"category": treatment.public_id, "question": "What should I bring?", "answer": "ID."},
    )

    entry = FaqEntry.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/staff/content/faq/{entry.public_id}/"
    assert entry.published_revision is None
    assert entry.revisions.get().question == "What should I bring?"


def test_an_empty_question_is_refused_next_to_its_field(editor, entry):
    response = editor.post(
        f"/staff/content/faq/{entry.public_id}/",
        {"category": entry.category.public_id, "question": "   ", "answer": "New answer."},
    )

    assert response.status_code == 200
    assert "Enter the question, as a reader would ask it." in response.content.decode()
    assert entry.revisions.count() == 1


def test_saving_a_published_entry_keeps_the_public_on_the_published_revision(editor, edie, entry):
    services.faq_publish(actor=edie, entry=entry)

    response = editor.post(
        f"/staff/content/faq/{entry.public_id}/",
        {"category": entry.category.public_id, "question": "Changed?", "answer": "Changed."},
        follow=True,
    )

    page = response.content.decode()
    assert "Saved as revision 2. The public still sees revision 1" in page
    assert "Published, with unpublished changes" in page


def test_the_live_preview_renders_markdown_safely(editor):
    response = editor.post(
        "/staff/content/preview/?field=answer",
        {"answer": "**bold** <script>alert(1)</script> [x](javascript:alert(1))"},
        HTTP_HX_REQUEST="true",
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert "<strong>bold</strong>" in html
    assert "<script>" not in html
    assert 'href="javascript:' not in html
    assert editor.post("/staff/content/preview/?field=secret", {}).status_code == 400
    assert editor.get("/staff/content/preview/?field=answer").status_code == 405


def test_the_edit_form_posts_to_the_live_preview(editor, entry):
    page = editor.get(f"/staff/content/faq/{entry.public_id}/").content.decode()

    assert 'hx-post="/staff/content/preview/?field=answer"' in page
    assert 'hx-target="#answer-preview"' in page
    assert "About <em>two</em>." in page  # the preview starts with what is saved


def test_the_editor_preview_shows_a_draft_the_public_cannot_see(editor, client, entry):
    response = editor.get(f"/staff/content/faq/{entry.public_id}/preview/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "The public does not see this revision." in page
    assert "About <em>two</em>." in page
    editor.logout()
    assert "How long is a session?" not in client.get("/api/v1/content/faq/").content.decode()


# --- Publishing -------------------------------------------------------------------------


def test_publishing_asks_first_then_publishes(editor, entry):
    confirm = editor.get(f"/staff/content/faq/{entry.public_id}/publish/")
    assert "Publish revision 1?" in confirm.content.decode()
    entry.refresh_from_db()
    assert entry.published_revision is None

    response = editor.post(f"/staff/content/faq/{entry.public_id}/publish/", {"when": "now"})

    assert response.status_code == 302
    entry.refresh_from_db()
    assert entry.published_revision.number == 1


def test_scheduling_publishes_at_the_time_given(editor, entry):
    at = timezone.localtime() + timedelta(days=2)

    editor.post(
        f"/staff/content/faq/{entry.public_id}/publish/",
        {"when": "schedule", "publish_at": at.strftime("%Y-%m-%dT%H:%M")},
    )

    entry.refresh_from_db()
    assert entry.publish_at == at.replace(second=0, microsecond=0)
    assert "Scheduled" in editor.get("/staff/content/faq/").content.decode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"when": "schedule", "publish_at": "2001-01-01T09:00"}, "That time has passed."),
        ({"when": "schedule", "publish_at": ""}, "Choose the date and time to publish at."),
        ({"when": "schedule", "publish_at": "tomorrow"}, "Enter a date and time like"),
    ],
)
def test_a_bad_schedule_is_refused_with_a_message(editor, entry, data, message):
    response = editor.post(f"/staff/content/faq/{entry.public_id}/publish/", data)

    assert response.status_code == 200
    assert message in response.content.decode()
    entry.refresh_from_db()
    assert entry.published_revision is None


def test_unpublishing_asks_first(editor, edie, entry):
    services.faq_publish(actor=edie, entry=entry)
    assert (
        "Take it off the public site?"
        in editor.get(f"/staff/content/faq/{entry.public_id}/unpublish/").content.decode()
    )

    editor.post(f"/staff/content/faq/{entry.public_id}/unpublish/")

    entry.refresh_from_db()
    assert entry.published_revision is None


def test_moving_an_entry_changes_its_place(editor, edie, treatment, entry):
    second = services.faq_save(actor=edie, category=treatment, question="Second?", answer="A")

    response = editor.post(f"/staff/content/faq/{second.public_id}/move/", {"direction": "up"})

    assert response.status_code == 302
    assert list(FaqEntry.objects.order_by("order").values_list("pk", flat=True)) == [
        second.pk,
        entry.pk,
    ]
    refused = editor.post(
        f"/staff/content/faq/{second.public_id}/move/", {"direction": "up"}, follow=True
    )
    assert "already first in its category" in refused.content.decode()


# --- Revisions ----------------------------------------------------------------------------


def test_revisions_show_who_and_when_and_the_diff(editor, alice, entry):
    services.faq_save(
        actor=alice, entry=entry, category=entry.category, question="How long?", answer="Two."
    )

    listing = editor.get(f"/staff/content/faq/{entry.public_id}/revisions/").content.decode()
    diff = editor.get(
        f"/staff/content/faq/{entry.public_id}/revisions/diff/?old=1&new=2"
    ).content.decode()

    assert "Alice Admin" in listing and "Edie Editor" in listing
    assert 'Removed: </span><span aria-hidden="true">− </span>How long is a session?' in diff
    assert 'Added: </span><span aria-hidden="true">+ </span>How long?' in diff
    assert (
        editor.get(f"/staff/content/faq/{entry.public_id}/revisions/diff/?old=1&new=9").status_code
        == 404
    )
    assert (
        editor.get(f"/staff/content/faq/{entry.public_id}/revisions/diff/?old=x").status_code == 404
    )
    huge = "9" * 30
    assert (
        editor.get(f"/staff/content/faq/{entry.public_id}/preview/?revision={huge}").status_code
        == 404
    )
    assert (
        editor.post(f"/staff/content/faq/{entry.public_id}/revisions/{huge}/restore/").status_code
        == 404
    )


def test_restoring_a_revision_saves_it_as_the_latest(editor, edie, entry):
    services.faq_save(
        actor=edie, entry=entry, category=entry.category, question="Changed?", answer="Changed."
    )
    url = f"/staff/content/faq/{entry.public_id}/revisions/1/restore/"
    assert "Restore revision 1?" in editor.get(url).content.decode()

    editor.post(url)

    latest = entry.revisions.order_by("-number").first()
    assert (latest.number, latest.question, latest.restored_from) == (
        3,
        "How long is a session?",
        1,
    )


def test_restoring_a_revision_of_another_entry_is_not_found(editor, edie, treatment, entry):
    other = services.faq_save(actor=edie, category=treatment, question="Other?", answer="A")
    services.faq_save(actor=edie, entry=other, category=treatment, question="Other 2?", answer="B")

    response = editor.post(f"/staff/content/faq/{entry.public_id}/revisions/2/restore/")

    assert response.status_code == 404
    assert entry.revisions.count() == 1


# --- Articles -----------------------------------------------------------------------------


def test_a_slug_that_is_not_a_slug_is_refused_next_to_the_field(editor):
    response = editor.post(
        "/staff/content/articles/new/",
        {"title": "T", "slug": "Not a slug!", "summary": "S", "body": "B"},
    )

    assert response.status_code == 200
    assert "Use only lowercase letters, numbers and single hyphens" in response.content.decode()
    assert not Article.objects.exists()


def test_a_duplicate_slug_is_refused(editor, edie):
    _article(edie)

    response = editor.post(
        "/staff/content/articles/new/",
        {"title": "T", "slug": "after-your-infusion", "summary": "S", "body": "B"},
    )

    assert "Another article already uses" in response.content.decode()
    assert Article.objects.count() == 1


def test_publishing_a_new_slug_keeps_the_old_address_as_a_redirect(editor, edie):
    article = _article(edie)
    services.article_publish(actor=edie, article=article)
    editor.post(
        f"/staff/content/articles/{article.public_id}/",
        {"title": "After", "slug": "after-an-infusion", "summary": "S", "body": "B"},
    )
    confirm = editor.get(f"/staff/content/articles/{article.public_id}/publish/").content.decode()
    assert "the old address keeps working" in confirm

    editor.post(f"/staff/content/articles/{article.public_id}/publish/", {"when": "now"})

    article.refresh_from_db()
    assert article.slug == "after-an-infusion"
    assert ArticleRedirect.objects.get().slug == "after-your-infusion"
    page = editor.get(f"/staff/content/articles/{article.public_id}/").content.decode()
    assert "/learn/after-your-infusion/" in page


def test_an_article_draft_has_an_editor_preview(editor, edie):
    article = _article(edie)

    response = editor.get(f"/staff/content/articles/{article.public_id}/preview/")

    assert response.status_code == 200
    assert "After your infusion" in response.content.decode()
    assert "The public does not see this revision." in response.content.decode()
