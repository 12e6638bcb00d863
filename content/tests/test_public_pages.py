import json
import re
import uuid
from datetime import time, timedelta

import pytest
from django.utils import timezone

from clinic.models import Location, OpeningHours
from content import cache as content_cache
from content.models import (
    Article,
    ArticleRedirect,
    ArticleRevision,
    FaqCategory,
    FaqEntry,
    FaqRevision,
)
from content.tests.xss import XSS_PAYLOADS, dangerous_markup

PUBLIC_PAGES = [
    "/",
    "/conditions/",
    "/conditions/depression/",
    "/locations/",
    "/faq/",
    "/learn/",
]


@pytest.fixture(autouse=True)
def _own_cache(settings):
    # A cache of this test's own: the default one is shared on disk with other test runs.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"content-tests-{uuid.uuid4()}",
        }
    }


@pytest.fixture(autouse=True)
def _no_seeded_content(db):
    # The initial content a data migration seeds would blur what each test shows.
    FaqEntry.objects.update(published_revision=None)
    FaqEntry.objects.all().delete()
    FaqCategory.objects.all().delete()
    Article.objects.update(published_revision=None)
    Article.objects.all().delete()


def category(name="Treatment", order=0):
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:80] or "topic"
    found, _ = FaqCategory.objects.get_or_create(name=name, defaults={"slug": slug, "order": order})
    return found


def faq(question, answer, *, topic="Treatment", published=True, publish_at=None, order=0):
    entry = FaqEntry.objects.create(category=category(topic), order=order, publish_at=publish_at)
    revision = FaqRevision.objects.create(entry=entry, number=1, question=question, answer=answer)
    if published:
        entry.published_revision = revision
        entry.save(update_fields=["published_revision"])
    return entry


def article(title, *, slug=None, body="Body text.", published=True, publish_at=None, **fields):
    slug = slug or re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
    item = Article.objects.create(slug=slug if published else None, publish_at=publish_at)
    revision = ArticleRevision.objects.create(
        article=item,
        number=1,
        title=title,
        slug=slug,
        summary=fields.pop("summary", f"About {title}."),
        body=body,
        **fields,
    )
    if published:
        item.published_revision = revision
        item.save(update_fields=["published_revision"])
    return item


def text_of(response):
    return response.content.decode()


def json_ld_of(response):
    found = re.findall(
        r'<script type="application/ld\+json" nonce="[^"]+">(.*?)</script>', text_of(response), re.S
    )
    return [json.loads(block) for block in found]


# --- The pages and what every one of them carries ------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_every_public_page_has_the_call_to_action_disclaimer_and_crisis_line(client, settings, url):
    settings.CRISIS_LINE = "988"
    settings.CRISIS_LINE_TEXT = "the test crisis line, open all hours"

    response = client.get(url)

    assert response.status_code == 200
    page = text_of(response)
    assert re.search(r'<a class="btn[^"]*" href="/book/">Request a consultation</a>', page)
    assert "Medical disclaimer" in page
    assert "not medical advice" in page
    assert 'href="tel:988"' in page
    assert "the test crisis line, open all hours" in page
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page


@pytest.mark.django_db
@pytest.mark.parametrize("url", PUBLIC_PAGES)
def test_every_public_page_has_a_canonical_url_and_open_graph_tags(client, settings, url):
    settings.SITE_URL = "https://clinic.example.com"

    page = text_of(client.get(url))

    assert f'<link rel="canonical" href="https://clinic.example.com{url}">' in page
    assert f'<meta property="og:url" content="https://clinic.example.com{url}">' in page
    assert '<meta property="og:title" content="' in page
    assert '<meta property="og:description" content="' in page
    assert '<meta property="og:type" content="website">' in page


@pytest.mark.django_db
def test_without_site_url_the_canonical_url_is_the_path_not_the_requests_host(client, settings):
    settings.SITE_URL = ""
    settings.ALLOWED_HOSTS = ["internal.example"]

    page = text_of(client.get("/faq/", HTTP_HOST="internal.example"))

    assert '<link rel="canonical" href="/faq/">' in page
    assert "internal.example" not in page
    assert "og:url" not in page


@pytest.mark.django_db
def test_public_pages_do_not_accept_posts(client):
    assert client.post("/faq/").status_code == 405


@pytest.mark.django_db
def test_each_conditions_page_lists_its_conditions_and_an_unknown_one_is_404(client):
    page = text_of(client.get("/conditions/chronic-pain/"))

    assert "Fibromyalgia" in page
    assert "Complex regional pain syndrome" in page
    assert client.get("/conditions/no-such-thing/").status_code == 404


@pytest.mark.django_db
def test_locations_show_address_phone_local_hours_and_a_map_link(client):
    riverside = Location.objects.create(
        name="Riverside",
        address_line1="1 River St",
        city="Springfield",
        region="IL",
        postal_code="62701",
        phone="+1 555 010 0100",
        time_zone="America/Chicago",
    )
    OpeningHours.objects.create(
        location=riverside, weekday=0, opens_at=time(8), closes_at=time(17, 30)
    )
    Location.objects.create(
        name="Closed site",
        address_line1="2 Shut Rd",
        city="X",
        phone="1",
        time_zone="UTC",
        is_active=False,
    )

    page = text_of(client.get("/locations/"))

    assert "1 River St" in page
    assert 'href="tel:+1 555 010 0100"' in page
    assert "Monday" in page and "8:00 AM – 5:30 PM" in page
    assert "local time (America/Chicago)" in page
    assert (
        'href="https://www.openstreetmap.org/search?query=1%20River%20St%2C%20Springfield%20IL'
        '%2062701"' in page
    )
    assert "<iframe" not in page
    assert "Closed site" not in page


# --- FAQ -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_faq_groups_published_questions_by_category_in_order(client):
    faq("How long is a session?", "About **two hours** in all.", topic="Sessions")
    faq("Who can have it?", "Adults, after screening.", topic="Candidacy")
    category("Candidacy").__class__.objects.filter(name="Candidacy").update(order=0)
    category("Sessions").__class__.objects.filter(name="Sessions").update(order=1)

    page = text_of(client.get("/faq/"))

    assert page.index("Candidacy") < page.index("Sessions")
    assert page.index("Who can have it?") < page.index("How long is a session?")
    assert "About <strong>two hours</strong> in all." in page


@pytest.mark.django_db
def test_faq_search_keeps_matching_questions_only(client):
    faq("Can I drive afterwards?", "Not until the next day.")
    faq("What should I bring?", "Your medicines list.")

    page = text_of(client.get("/faq/", {"q": "  DRIVE  "}))

    assert "Can I drive afterwards?" in page
    assert "What should I bring?" not in page
    assert "1 question matches “DRIVE”." in page


@pytest.mark.django_db
def test_faq_search_reads_words_as_english_does(client):
    faq("Can I drive after my infusion?", "No: an adult takes you home.")
    faq("How much does it cost?", "Each visit has its price.")
    faq("What should I bring?", "Your medicines list.")

    driving = text_of(client.get("/faq/", {"q": "driving"}))
    costs = text_of(client.get("/faq/", {"q": "costs"}))
    partial = text_of(client.get("/faq/", {"q": "medic"}))

    assert "Can I drive after my infusion?" in driving
    assert "What should I bring?" not in driving
    assert "How much does it cost?" in costs
    assert "What should I bring?" in partial  # a word's beginning still finds it


@pytest.mark.django_db
def test_faq_search_that_finds_nothing_says_so(client):
    faq("Can I drive afterwards?", "Not until the next day.")

    response = client.get("/faq/", {"q": "zebra" * 50})

    assert response.status_code == 200
    assert "No question matches" in text_of(response)
    assert "Can I drive afterwards?" not in text_of(response)


@pytest.mark.django_db
def test_faq_page_carries_faqpage_json_ld_of_the_published_questions(client):
    faq("Is it addictive?", "Misuse is a risk; we screen for it.")
    faq("A draft question", "Not yet.", published=False)

    blocks = json_ld_of(client.get("/faq/"))

    assert len(blocks) == 1
    schema = blocks[0]
    assert schema["@context"] == "https://schema.org"
    assert schema["@type"] == "FAQPage"
    assert [q["name"] for q in schema["mainEntity"]] == ["Is it addictive?"]
    answer = schema["mainEntity"][0]["acceptedAnswer"]
    assert answer["@type"] == "Answer"
    assert "we screen for it" in answer["text"]


@pytest.mark.django_db
def test_a_draft_faq_entry_is_not_shown_and_a_newer_draft_does_not_replace_the_published_one(
    client,
):
    faq("Never published?", "Draft words.", published=False)
    live = faq("Published question?", "Published answer.")
    FaqRevision.objects.create(entry=live, number=2, question="Edited?", answer="Unpublished edit.")

    page = text_of(client.get("/faq/"))

    assert "Never published?" not in page
    assert "Draft words." not in page
    assert "Published answer." in page
    assert "Unpublished edit." not in page


@pytest.mark.django_db
def test_a_scheduled_faq_entry_shows_only_once_its_time_has_come(client):
    now = timezone.now()
    faq("Due later?", "Later words.", publish_at=now + timedelta(hours=1))
    faq("Already due?", "Earlier words.", publish_at=now - timedelta(minutes=1))

    page = text_of(client.get("/faq/"))

    assert "Already due?" in page
    assert "Due later?" not in page


@pytest.mark.django_db
def test_faq_page_runs_the_same_number_of_queries_for_3_or_30_entries(
    client, django_assert_num_queries
):
    for number in range(3):
        faq(f"Question {number}?", f"Answer {number}.", topic=f"Topic {number}")
    with django_assert_num_queries(1) as few:
        client.get("/faq/", {"q": "answer"})
    for number in range(3, 30):
        faq(f"Question {number}?", f"Answer {number}.", topic=f"Topic {number % 5}")
    with django_assert_num_queries(len(few.captured_queries)):
        response = client.get("/faq/", {"q": "answer"})
    assert text_of(response).count('class="faq-entry') == 30


# --- Articles -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_an_article_page_shows_the_published_revision_with_seo_and_og_tags(client):
    article(
        "After your infusion",
        slug="after-your-infusion",
        body="## Rest\n\nGo home with an adult.",
        hero_text="What the rest of the day looks like.",
        seo_title="After a ketamine infusion",
        seo_description="Rest, no driving until tomorrow.",
    )

    response = client.get("/learn/after-your-infusion/")

    assert response.status_code == 200
    page = text_of(response)
    assert '<h1 class="h2">After your infusion</h1>' in page
    assert "What the rest of the day looks like." in page
    assert "<h3>Rest</h3>" in page
    assert "<title>After a ketamine infusion · " in page
    assert '<meta name="description" content="Rest, no driving until tomorrow.">' in page
    assert '<meta property="og:type" content="article">' in page


@pytest.mark.django_db
def test_articles_list_shows_published_articles_only(client):
    article("Myths and facts")
    article("Secret draft", published=False)
    article("Coming soon", publish_at=timezone.now() + timedelta(days=1))

    page = text_of(client.get("/learn/"))

    assert "Myths and facts" in page
    assert "Secret draft" not in page
    assert "Coming soon" not in page


@pytest.mark.django_db
def test_a_draft_article_is_404_for_the_public(client):
    draft = article("Secret draft", slug="secret-draft", published=False)
    draft.slug = "secret-draft"  # even with a slug, nothing is published
    draft.save(update_fields=["slug"])

    assert client.get("/learn/secret-draft/").status_code == 404
    assert client.get("/learn/no-such-article/").status_code == 404


@pytest.mark.django_db
def test_a_scheduled_article_is_404_until_its_time_and_then_visible(client):
    now = timezone.now()
    article("Later", slug="later", publish_at=now + timedelta(minutes=5))
    article("Earlier", slug="earlier", publish_at=now - timedelta(minutes=5))

    assert client.get("/learn/later/").status_code == 404
    assert client.get("/learn/earlier/").status_code == 200


@pytest.mark.django_db
def test_an_old_slug_redirects_permanently_to_the_current_one(client):
    item = article("First infusion", slug="your-first-infusion")
    ArticleRedirect.objects.create(slug="first-infusion", article=item)

    response = client.get("/learn/first-infusion/")

    assert response.status_code == 301
    assert response["Location"] == "/learn/your-first-infusion/"


@pytest.mark.django_db
def test_an_old_slug_of_an_unpublished_article_is_404(client):
    item = article("Pulled", slug="pulled", published=False)
    ArticleRedirect.objects.create(slug="old-pulled", article=item)

    assert client.get("/learn/old-pulled/").status_code == 404


@pytest.mark.django_db
def test_article_page_runs_a_constant_number_of_queries(client, django_assert_max_num_queries):
    article("One", slug="one", body="Short.")
    article("Two", slug="two", body="\n\n".join(f"Paragraph {n} [link](/faq/)" for n in range(200)))

    # The article, then (caching the page) the next scheduled FAQ entry and article.
    with django_assert_max_num_queries(3):
        assert client.get("/learn/one/").status_code == 200
    with django_assert_max_num_queries(3):
        assert client.get("/learn/two/").status_code == 200


# --- XSS: every editable field, each payload -------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_no_xss_payload_in_any_faq_field_reaches_the_page(client, payload):
    faq(payload, f"{payload}\n\n{payload} in a line", topic=f"Topic {payload}"[:80])

    response = client.get("/faq/")

    page = text_of(response)
    assert dangerous_markup(page, page=True) == []
    assert payload not in page or "<" not in payload
    # The JSON-LD still parses, so the payload did not end its <script>.
    assert json_ld_of(response)[0]["mainEntity"][0]["name"] == payload


@pytest.mark.django_db
@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_no_xss_payload_in_any_article_field_reaches_the_pages(client, payload):
    article(
        payload[:150],
        slug="payload",
        summary=payload,
        hero_text=payload,
        body=f"{payload}\n\n* {payload}\n\n> {payload}",
        seo_title=payload[:70],
        seo_description=payload[:160],
    )

    for url in ["/learn/payload/", "/learn/", "/"]:
        response = client.get(url)
        assert response.status_code == 200, url
        page = text_of(response)
        assert dangerous_markup(page, page=True) == [], url
        assert payload not in page or "<" not in payload, url


# --- Caching ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_cached_page_is_served_without_queries_until_bump(client, django_assert_num_queries):
    entry = faq("Cached question?", "First answer.")
    client.get("/faq/")

    FaqRevision.objects.filter(entry=entry).update(answer="Second answer.")
    with django_assert_num_queries(0):
        response = client.get("/faq/")
    assert response["X-Content-Cache"] == "hit"
    assert "First answer." in text_of(response)

    content_cache.bump()

    page = text_of(client.get("/faq/"))
    assert "Second answer." in page
    assert "First answer." not in page


@pytest.mark.django_db
def test_a_cached_page_carries_no_csrf_token_and_sets_no_cookie(client):
    first = client.get("/")
    second = client.get("/")

    for response in (first, second):
        assert "csrftoken" not in response.cookies
        assert '"X-CSRFToken": ""' in text_of(response)
    assert second["X-Content-Cache"] == "hit"


@pytest.mark.django_db
def test_searches_and_pages_with_messages_are_not_cached(client, alice):
    client.get("/faq/", {"q": "driving"})
    assert "X-Content-Cache" not in client.get("/faq/", {"q": "driving"})

    client.force_login(alice)
    client.get("/staff/logout/")  # any page that leaves a message would do
    client.get("/faq/")
    assert client.get("/faq/").get("X-Content-Cache") == "hit"


@pytest.mark.django_db
def test_cache_time_is_cut_short_by_the_next_scheduled_publication(settings):
    settings.CONTENT_PAGE_CACHE_SECONDS = 300
    assert content_cache.page_seconds() == 300

    faq("Soon?", "Soon.", publish_at=timezone.now() + timedelta(seconds=90))

    assert 85 <= content_cache.page_seconds() <= 90


@pytest.mark.django_db
def test_a_missing_page_is_not_cached(client):
    assert client.get("/learn/later/").status_code == 404
    article("Later", slug="later")
    content_cache.bump()

    assert client.get("/learn/later/").status_code == 200


# --- sitemap.xml and robots.txt --------------------------------------------------------------


@pytest.mark.django_db
def test_sitemap_lists_public_pages_and_published_articles_only(client, settings):
    settings.SITE_URL = "https://clinic.example.com"
    article("Live one", slug="live-one")
    article("Draft one", slug="draft-one", published=False)
    article("Future one", slug="future-one", publish_at=timezone.now() + timedelta(days=2))

    response = client.get("/sitemap.xml")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/xml")
    page = text_of(response)
    assert "<loc>https://clinic.example.com/learn/live-one/</loc>" in page
    assert "<loc>https://clinic.example.com/faq/</loc>" in page
    assert "<loc>https://clinic.example.com/conditions/chronic-pain/</loc>" in page
    assert "draft-one" not in page
    assert "future-one" not in page
    assert "/staff/" not in page


@pytest.mark.django_db
def test_robots_txt_points_at_the_sitemap_and_keeps_crawlers_out_of_private_areas(client, settings):
    settings.SITE_URL = "https://clinic.example.com"

    response = client.get("/robots.txt")

    assert response["Content-Type"] == "text/plain; charset=utf-8"
    lines = text_of(response).splitlines()
    assert "User-agent: *" in lines
    for private in ["/staff/", "/admin/", "/api/", "/p/", "/book/manage/"]:
        assert f"Disallow: {private}" in lines
    assert "Sitemap: https://clinic.example.com/sitemap.xml" in lines
