"""The content API: published FAQ and articles for anyone, editing for admins and content
editors, and the OpenAPI schema."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from clinic.models import AuditEvent
from content import services
from content.models import Article, FaqCategory, FaqEntry

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


def _faq(actor, category, question="How long is a session?", publish=True) -> FaqEntry:
    entry = services.faq_save(actor=actor, category=category, question=question, answer="**Two**")
    if publish:
        services.faq_publish(actor=actor, entry=entry)
    return entry


def _article(actor, slug="after-your-infusion", publish=True) -> Article:
    article = services.article_save(
        actor=actor, title="After", slug=slug, summary="S", body="<script>x</script>Rest."
    )
    if publish:
        services.article_publish(actor=actor, article=article)
    return article


# --- Public reads -------------------------------------------------------------------------


def test_anyone_reads_the_published_faq_without_signing_in(client, edie, treatment):
    _faq(edie, treatment)
    _faq(edie, treatment, question="A draft?", publish=False)

    response = client.get("/api/v1/content/faq/")

    assert response.status_code == 200
    (entry,) = response.json()
    assert entry["question"] == "How long is a session?"
    assert entry["answer"] == "**Two**"
    assert entry["answer_html"] == "<p><strong>Two</strong></p>\n"
    assert entry["category"] == {"name": "Treatment", "slug": "treatment"}


def test_a_stale_token_does_not_stop_a_public_read(client, edie, treatment):
    _faq(edie, treatment)

    response = client.get("/api/v1/content/faq/", HTTP_AUTHORIZATION="Token not-a-token")

    assert response.status_code == 200


def test_a_draft_article_is_not_found_by_the_public(client, edie):
    _article(edie, publish=False)

    assert client.get("/api/v1/content/articles/after-your-infusion/").status_code == 404
    assert client.get("/api/v1/content/articles/").json()["results"] == []


def test_a_scheduled_article_shows_once_its_time_has_come(client, edie):
    article = _article(edie, publish=False)
    services.article_publish(
        actor=edie, article=article, publish_at=timezone.now() + timedelta(hours=1)
    )
    assert client.get("/api/v1/content/articles/after-your-infusion/").status_code == 404

    Article.objects.filter(pk=article.pk).update(publish_at=timezone.now() - timedelta(seconds=1))

    assert client.get("/api/v1/content/articles/after-your-infusion/").status_code == 200


def test_a_published_article_reads_with_its_body_as_safe_html(client, edie):
    _article(edie)

    body = client.get("/api/v1/content/articles/after-your-infusion/").json()

    assert body["title"] == "After"
    assert "<script>" not in body["body_html"]
    assert client.get("/api/v1/content/articles/").json()["count"] == 1


def test_an_old_slug_redirects_to_the_current_one(client, edie):
    article = _article(edie, slug="old")
    services.article_save(actor=edie, article=article, title="A", slug="new", summary="S", body="B")
    services.article_publish(actor=edie, article=article)

    response = client.get("/api/v1/content/articles/old/")

    assert response.status_code == 301
    assert response["Location"] == "/api/v1/content/articles/new/"


def test_public_reads_run_a_constant_number_of_queries(
    client, edie, treatment, django_assert_max_num_queries
):
    for n in range(10):
        _faq(edie, treatment, question=f"Q{n}?")
        _article(edie, slug=f"a-{n}")

    with django_assert_max_num_queries(1):
        assert len(client.get("/api/v1/content/faq/").json()) == 10
    with django_assert_max_num_queries(2):
        assert client.get("/api/v1/content/articles/").json()["count"] == 10


# --- Editing ------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["fran", "nina", "phil"])
def test_only_admins_and_content_editors_edit_through_the_api(
    request, client, edie, treatment, persona
):
    entry = _faq(edie, treatment, publish=False)
    client.force_login(request.getfixturevalue(persona))

    responses = [
        client.get("/api/v1/content/editor/faq/"),
        client.post(
            "/api/v1/content/editor/faq/",
            {"category": "treatment", "question": "Q?", "answer": "A"},
            content_type="application/json",
        ),
        client.post(f"/api/v1/content/editor/faq/{entry.public_id}/publish/"),
        client.get(f"/api/v1/content/editor/faq/{entry.public_id}/"),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403, 403]
    assert FaqEntry.objects.count() == 1
    entry.refresh_from_db()
    assert entry.published_revision is None


def test_anonymous_visitors_cannot_edit(client):
    response = client.post(
        "/api/v1/content/editor/faq/",
        {"category": "treatment", "question": "Q?", "answer": "A"},
        content_type="application/json",
    )

    assert response.status_code in (401, 403)


def test_an_editor_creates_updates_and_publishes_an_faq_entry(client, edie, alice, treatment):
    client.force_login(edie)

    created = client.post(
        "/api/v1/content/editor/faq/",
        {"category": "treatment", "question": "Can I drive?", "answer": "Not that day."},
        content_type="application/json",
    )
    assert created.status_code == 201
    entry_id = created.json()["id"]
    assert created.json()["state"] == "draft"
    assert client.get("/api/v1/content/faq/").json() == []

    updated = client.put(
        f"/api/v1/content/editor/faq/{entry_id}/",
        {"category": "treatment", "question": "Can I drive home?", "answer": "No."},
        content_type="application/json",
    )
    assert (updated.json()["revision"], updated.json()["saved_by"]) == (2, "Edie Editor")

    published = client.post(f"/api/v1/content/editor/faq/{entry_id}/publish/")
    assert published.json()["state"] == "published"
    assert [e["question"] for e in client.get("/api/v1/content/faq/").json()] == [
        "Can I drive home?"
    ]
    assert AuditEvent.objects.filter(object_id=entry_id, actor=edie).count() == 3


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"category": "treatment", "question": "", "answer": "A"}, "question", "Enter the"),
        ({"category": "nope", "question": "Q?", "answer": "A"}, "category", "no category"),
        ({"question": "Q?", "answer": "A"}, "category", "Say which category"),
    ],
)
def test_bad_input_is_refused_with_a_message(client, edie, treatment, data, field, message):
    client.force_login(edie)

    response = client.post("/api/v1/content/editor/faq/", data, content_type="application/json")

    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert not FaqEntry.objects.exists()


def test_a_schedule_in_the_past_is_refused(client, edie, treatment):
    entry = _faq(edie, treatment, publish=False)
    client.force_login(edie)

    response = client.post(
        f"/api/v1/content/editor/faq/{entry.public_id}/publish/",
        {"publish_at": "2001-01-01T09:00:00Z"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert "That time has passed" in response.json()["publish_at"][0]
    entry.refresh_from_db()
    assert entry.published_revision is None


def test_an_editor_writes_and_publishes_an_article(client, alice):
    client.force_login(alice)

    refused = client.post(
        "/api/v1/content/editor/articles/",
        {"title": "T", "slug": "Not A Slug", "summary": "S", "body": "B"},
        content_type="application/json",
    )
    created = client.post(
        "/api/v1/content/editor/articles/",
        {"title": "T", "slug": "first-infusion", "summary": "S", "body": "B"},
        content_type="application/json",
    )
    article_id = created.json()["id"]
    published = client.post(f"/api/v1/content/editor/articles/{article_id}/publish/")
    listing = client.get("/api/v1/content/editor/articles/")
    unpublished = client.post(f"/api/v1/content/editor/articles/{article_id}/unpublish/")

    assert refused.status_code == 400 and "lowercase" in refused.json()["slug"][0]
    assert created.status_code == 201
    assert (published.json()["state"], published.json()["slug"]) == ("published", "first-infusion")
    assert [a["title"] for a in listing.json()["results"]] == ["T"]
    assert unpublished.json()["state"] == "draft"
    assert client.get("/api/v1/content/articles/first-infusion/").status_code == 404


def test_the_schema_lists_the_content_paths(client, edie):
    client.force_login(edie)

    paths = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]

    for path in (
        "/api/v1/content/faq/",
        "/api/v1/content/articles/",
        "/api/v1/content/articles/{slug}/",
        "/api/v1/content/editor/faq/",
        "/api/v1/content/editor/faq/{entry_id}/publish/",
        "/api/v1/content/editor/articles/{article_id}/",
    ):
        assert path in paths
    assert set(paths["/api/v1/content/editor/faq/{entry_id}/"]) == {"get", "put"}
