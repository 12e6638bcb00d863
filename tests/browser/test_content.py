"""The public education pages in a real browser: the FAQ passes axe-core, and an editor's
change to an answer reaches a visitor only once it is published."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from content.models import FaqCategory, FaqEntry, FaqRevision
from tests.browser.staff import sign_in

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture(autouse=True)
def _own_cache(settings):
    # The live server runs in this process: a cache of this test's own, not the shared disk one.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"content-browser-{uuid.uuid4()}",
        }
    }


def published_faq(question: str, answer: str, *, topic: str = "Your visit") -> FaqEntry:
    slug = re.sub(r"[^a-z0-9]+", "-", topic.lower()).strip("-")
    category, _ = FaqCategory.objects.get_or_create(name=topic, defaults={"slug": slug})
    entry = FaqEntry.objects.create(category=category)
    revision = FaqRevision.objects.create(entry=entry, number=1, question=question, answer=answer)
    entry.published_revision = revision
    entry.save(update_fields=["published_revision"])
    return entry


def serious_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at "
        + ", ".join(str(node["target"]) for node in violation["nodes"])
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


@pytest.mark.parametrize("context_args", [{}, PHONE], ids=["desktop", "phone"])
def test_the_faq_page_passes_axe_with_no_serious_violations(
    new_page: Callable[..., Page], context_args: dict
):
    published_faq("What goes in my bag?", "A list of your **medicines** and [questions](/faq/).")
    published_faq("Can I drive home?", "No: an adult drives you.", topic="After an infusion")
    page = new_page(**context_args)

    page.goto("/faq/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Questions and answers")
    assert serious_violations(page) == []

    page.get_by_label("Search the questions").fill("drive")
    page.get_by_role("button", name="Search").click()
    # The initial content answers questions about driving too.
    expect(page.get_by_role("status")).to_contain_text(re.compile(r"\d+ questions? match"))
    expect(page.get_by_role("heading", name="Can I drive home?")).to_be_visible()
    expect(page.get_by_role("heading", name="What goes in my bag?")).to_have_count(0)
    assert serious_violations(page) == []


def test_an_editor_changes_an_answer_previews_publishes_and_a_visitor_sees_it(
    new_page: Callable[..., Page], edie
):
    entry = published_faq("What should I bring?", "Comfortable clothes.")
    visitor = new_page(**PHONE)
    visitor.goto("/faq/")
    expect(visitor.get_by_text("Comfortable clothes.")).to_be_visible()

    editor = new_page()
    sign_in(editor, edie.email)
    editor.goto(f"/staff/content/faq/{entry.public_id}/")
    editor.get_by_label("Answer").fill("Bring a **list of your own medicines** and a snack.")
    # The live preview renders the Markdown as it is typed.
    expect(editor.get_by_test_id("answer-preview").locator("strong")).to_have_text(
        "list of your own medicines"
    )
    editor.get_by_role("button", name="Save a new revision").click()
    expect(editor.get_by_test_id("item-actions")).to_contain_text("Revision 2")

    # Saved but not published: the visitor still reads the published answer.
    visitor.reload()
    expect(visitor.get_by_text("Comfortable clothes.")).to_be_visible()
    expect(visitor.get_by_text("list of your own medicines")).to_have_count(0)

    editor.get_by_role("link", name="Preview", exact=True).click()
    expect(editor.get_by_test_id("preview-banner")).to_contain_text(
        "The public does not see this revision"
    )
    expect(editor.get_by_test_id("preview")).to_contain_text("list of your own medicines")
    editor.get_by_role("link", name="Publish it…").click()
    expect(editor.get_by_label("Publish now")).to_be_checked()
    editor.get_by_role("button", name="Publish revision 2").click()
    expect(editor.get_by_text("Revision 2 is on the public site now.")).to_be_visible()

    visitor.reload()
    answer = visitor.locator(f"#q-{entry.public_id}")
    expect(answer.locator("strong")).to_have_text("list of your own medicines")
    expect(answer).to_contain_text("and a snack.")
    expect(visitor.get_by_text("Comfortable clothes.")).to_have_count(0)
