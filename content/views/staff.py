"""Staff pages for the education content, under /staff/content/ (namespace "content_staff").

Admins and content editors (EDIT_CONTENT) list, write, preview, publish (now or scheduled),
unpublish and reorder FAQ entries and articles, and see, compare and restore their
revisions. The pages after the edit form are shared by both kinds (``KINDS``). Entries and
articles are fetched through ``content.selectors``; every rule is in ``content.services``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from clinic.forms import SearchForm, show_service_errors
from clinic.permissions import Capability, capability_required
from content import selectors, services
from content.forms import ArticleForm, DiffForm, FaqEntryForm, PublishForm
from content.models import Article, FaqEntry
from content.rendering import render_markdown

EDIT = Capability.EDIT_CONTENT
PER_PAGE = 25


@dataclass(frozen=True)
class Kind:
    """What differs between FAQ entries and articles on the shared pages."""

    key: str  # "faq" or "article": the URL names' prefix
    label: str
    fetch: Callable[[Any, uuid.UUID], Any]
    revisions: Callable[[Any], Any]
    revision_for: Callable[[Any, Any, int], Any]
    publish: Callable[..., Any]
    unpublish: Callable[..., Any]
    restore: Callable[..., Any]
    list_url_name: str
    # The edit form: its class, template, title when new, the Markdown field previewed
    # beside it, how a save is made and what the latest revision is.
    form_class: type[FaqEntryForm] | type[ArticleForm]
    template: str
    new_title: str
    markdown_field: str
    save: Callable[..., Any]
    latest: Callable[[Any], Any]

    def url(self, name: str, item: Any, *args: Any) -> str:
        return reverse(f"content_staff:{self.key}-{name}", args=[item.public_id, *args])

    def title_of(self, revision: Any) -> str:
        return revision.question if self.key == "faq" else revision.title


KINDS = {
    "faq": Kind(
        key="faq",
        label="FAQ entry",
        fetch=selectors.faq_entry_for,
        revisions=selectors.faq_revisions,
        revision_for=selectors.faq_revision_for,
        publish=lambda **kw: services.faq_publish(entry=kw.pop("item"), **kw),
        unpublish=lambda **kw: services.faq_unpublish(entry=kw.pop("item"), **kw),
        restore=lambda **kw: services.faq_restore(entry=kw.pop("item"), **kw),
        list_url_name="content_staff:faq-list",
        form_class=FaqEntryForm,
        template="content/staff/faq_form.html",
        new_title="New FAQ entry",
        markdown_field="answer",
        save=lambda **kw: services.faq_save(entry=kw.pop("item"), **kw),
        latest=selectors.faq_latest_revision,
    ),
    "article": Kind(
        key="article",
        label="article",
        fetch=selectors.article_for,
        revisions=selectors.article_revisions,
        revision_for=selectors.article_revision_for,
        publish=lambda **kw: services.article_publish(article=kw.pop("item"), **kw),
        unpublish=lambda **kw: services.article_unpublish(article=kw.pop("item"), **kw),
        restore=lambda **kw: services.article_restore(article=kw.pop("item"), **kw),
        list_url_name="content_staff:article-list",
        form_class=ArticleForm,
        template="content/staff/article_form.html",
        new_title="New article",
        markdown_field="body",
        save=lambda **kw: services.article_save(article=kw.pop("item"), **kw),
        latest=selectors.article_latest_revision,
    ),
}


def _state(item: FaqEntry | Article, latest_number: int) -> str:
    published = item.published_revision.number if item.published_revision else None
    return selectors.state_of(item, latest_number, published)


def _item_context(kind: Kind, item: Any, latest: Any) -> dict[str, Any]:
    state = _state(item, latest.number)
    return {
        "kind": kind,
        "item": item,
        "latest": latest,
        "state": state,
        "state_label": selectors.State.LABELS[state],
        "title": kind.title_of(latest),
        "edit_url": kind.url("edit", item),
        "list_url": reverse(kind.list_url_name),
    }


# --- Overview, lists ------------------------------------------------------------------------


@capability_required(EDIT)
def content_index(request: HttpRequest) -> HttpResponse:
    counts = selectors.content_counts(request.user)
    return render(request, "content/staff/index.html", {"counts": counts})


def _with_states(page: Any) -> None:
    for item in page.object_list:
        item.state = _state(item, item.latest_number)
        item.state_label = selectors.State.LABELS[item.state]


@capability_required(EDIT)
def faq_list(request: HttpRequest) -> HttpResponse:
    search = SearchForm(request.GET or None)
    q = search.search() if request.GET.get("q") else ""
    entries = selectors.faq_entries_for(request.user, q)
    page = Paginator(entries, PER_PAGE).get_page(request.GET.get("page"))
    _with_states(page)
    # Up and down buttons only where the entry has a neighbour in its category (on any page).
    rows = list(page.object_list)
    for index, entry in enumerate(rows):
        before = rows[index - 1] if index else None
        after = rows[index + 1] if index + 1 < len(rows) else None
        # At a page's edge the neighbour is on the next page: offer the move, and the
        # service says so if the neighbour is in another category.
        same_before = before.category_id == entry.category_id if before else page.number > 1
        same_after = after.category_id == entry.category_id if after else page.has_next()
        entry.can_move_up = not q and same_before
        entry.can_move_down = not q and same_after
    context = {"page": page, "search": search, "q": q}
    return render(request, "content/staff/faq_list.html", context)


@capability_required(EDIT)
def article_list(request: HttpRequest) -> HttpResponse:
    search = SearchForm(request.GET or None)
    q = search.search() if request.GET.get("q") else ""
    page = Paginator(selectors.articles_for(request.user, q), PER_PAGE).get_page(
        request.GET.get("page")
    )
    _with_states(page)
    return render(request, "content/staff/article_list.html", {"page": page, "search": search})


# --- Writing --------------------------------------------------------------------------------


@capability_required(EDIT)
def faq_new(request: HttpRequest) -> HttpResponse:
    return _item_new(request, KINDS["faq"])


@capability_required(EDIT)
def faq_edit(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    return _item_edit(request, KINDS["faq"], public_id)


@capability_required(EDIT)
def article_new(request: HttpRequest) -> HttpResponse:
    return _item_new(request, KINDS["article"])


@capability_required(EDIT)
def article_edit(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    return _item_edit(request, KINDS["article"], public_id)


def _item_new(request: HttpRequest, kind: Kind) -> HttpResponse:
    form = kind.form_class(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            item = kind.save(item=None, actor=request.user, request=request, **form.cleaned_data)
        except ValidationError as exc:
            show_service_errors(form, exc)
        else:
            messages.success(
                request, "Saved as a draft. Preview it, then publish it when it is ready."
            )
            return redirect(kind.url("edit", item))
    context = {
        "form": form,
        "title": kind.new_title,
        "cancel_url": reverse(kind.list_url_name),
        "preview_html": _preview_html(form, kind.markdown_field),
    }
    return render(request, kind.template, context)


def _item_edit(request: HttpRequest, kind: Kind, public_id: uuid.UUID) -> HttpResponse:
    item = kind.fetch(request.user, public_id)
    latest = kind.latest(item)
    form = kind.form_class(request.POST or None, initial=kind.form_class.initial_for(latest))
    if request.method == "POST" and form.is_valid():
        try:
            kind.save(item=item, actor=request.user, request=request, **form.cleaned_data)
        except ValidationError as exc:
            show_service_errors(form, exc)
        else:
            _saved_message(request, item, latest, kind.latest(item))
            return redirect(kind.url("edit", item))
    context = {
        **_item_context(kind, item, latest),
        "form": form,
        "cancel_url": reverse(kind.list_url_name),
        "preview_html": _preview_html(form, kind.markdown_field),
    }
    return render(request, kind.template, context)


def _preview_html(form: FaqEntryForm | ArticleForm, name: str) -> str:
    """The preview beside the editor when the page loads: what the field holds now."""
    return render_markdown(form[name].value() or "")


def _saved_message(request: HttpRequest, item: Any, before: Any, after: Any) -> None:
    if after.number == before.number:
        messages.info(request, "Nothing had changed, so no new revision was saved.")
    elif item.published_revision_id is not None:
        messages.success(
            request,
            f"Saved as revision {after.number}. The public still sees revision "
            f"{item.published_revision.number} until you publish this one.",
        )
    else:
        messages.success(request, f"Saved as revision {after.number} (a draft).")


@capability_required(EDIT)
def markdown_preview(request: HttpRequest) -> HttpResponse:
    """The HTML a Markdown field would show, for the live preview beside the editor. Takes the
    field named by ``?field=`` (answer or body) from the POST."""
    if request.method != "POST":
        return HttpResponse(status=405, headers={"Allow": "POST"})
    name = request.GET.get("field", "")
    if name not in ("answer", "body"):
        return HttpResponse("Say which field to preview: ?field=answer or ?field=body.", status=400)
    html = render_markdown(request.POST.get(name, ""))
    return render(request, "content/staff/partials/_markdown_preview.html", {"html": html})


@capability_required(EDIT)
@require_POST
def faq_move(request: HttpRequest, public_id: uuid.UUID) -> HttpResponse:
    entry = selectors.faq_entry_for(request.user, public_id)
    direction = request.POST.get("direction", "")
    try:
        services.faq_reorder(actor=request.user, entry=entry, direction=direction, request=request)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"Moved “{_question(entry)}” {direction}.")
    back = reverse("content_staff:faq-list")
    page = request.POST.get("page", "")
    return redirect(f"{back}?page={page}#entry-{entry.public_id}" if page.isdigit() else back)


def _question(entry: FaqEntry) -> str:
    return selectors.faq_latest_revision(entry).question


# --- Shared: preview, publish, unpublish, revisions, diff, restore --------------------------


def _kind(kind_key: str) -> Kind:
    return KINDS[kind_key]


@capability_required(EDIT)
def preview(request: HttpRequest, kind_key: str, public_id: uuid.UUID) -> HttpResponse:
    """The latest revision as the public page would show it, drafts included (editors only)."""
    kind = _kind(kind_key)
    item = kind.fetch(request.user, public_id)
    latest = kind.revisions(item).first()
    number = request.GET.get("revision", "")
    revision = kind.revision_for(request.user, item, int(number)) if number.isdigit() else latest
    context = {
        **_item_context(kind, item, latest),
        "revision": revision,
        "html": render_markdown(revision.answer if kind.key == "faq" else revision.body),
    }
    return render(request, "content/staff/preview.html", context)


@capability_required(EDIT)
def publish(request: HttpRequest, kind_key: str, public_id: uuid.UUID) -> HttpResponse:
    kind = _kind(kind_key)
    item = kind.fetch(request.user, public_id)
    latest = kind.revisions(item).first()
    form = PublishForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        publish_at = form.scheduled_for()
        try:
            kind.publish(actor=request.user, item=item, publish_at=publish_at, request=request)
        except ValidationError as exc:
            show_service_errors(form, exc)
        else:
            if publish_at:
                messages.success(
                    request,
                    f"Revision {latest.number} is scheduled: it goes on the public site at "
                    f"{publish_at:%Y-%m-%d %H:%M} ({publish_at.tzname()}).",
                )
            else:
                messages.success(request, f"Revision {latest.number} is on the public site now.")
            return redirect(kind.url("edit", item))
    context = {**_item_context(kind, item, latest), "form": form}
    return render(request, "content/staff/publish.html", context)


@capability_required(EDIT)
def unpublish(request: HttpRequest, kind_key: str, public_id: uuid.UUID) -> HttpResponse:
    kind = _kind(kind_key)
    item = kind.fetch(request.user, public_id)
    if request.method == "POST":
        try:
            kind.unpublish(actor=request.user, item=item, request=request)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"The {kind.label} is off the public site; it is a draft.")
        return redirect(kind.url("edit", item))
    latest = kind.revisions(item).first()
    return render(request, "content/staff/unpublish.html", _item_context(kind, item, latest))


@capability_required(EDIT)
def revisions(request: HttpRequest, kind_key: str, public_id: uuid.UUID) -> HttpResponse:
    kind = _kind(kind_key)
    item = kind.fetch(request.user, public_id)
    page = Paginator(kind.revisions(item), PER_PAGE).get_page(request.GET.get("page"))
    latest = page.object_list[0] if page.number == 1 else kind.revisions(item).first()
    context = {**_item_context(kind, item, latest), "page": page}
    return render(request, "content/staff/revisions.html", context)


@capability_required(EDIT)
def diff(request: HttpRequest, kind_key: str, public_id: uuid.UUID) -> HttpResponse:
    """Two revisions side by side: ?old=<n>&new=<n>; by default the one before the latest
    and the latest."""
    kind = _kind(kind_key)
    item = kind.fetch(request.user, public_id)
    latest = kind.revisions(item).first()
    form = DiffForm(request.GET)
    if not form.is_valid():
        raise Http404("Give the revisions to compare as numbers: ?old=1&new=2.")
    new_number = form.cleaned_data["new"] or latest.number
    old_number = form.cleaned_data["old"] or max(new_number - 1, 1)
    old = kind.revision_for(request.user, item, old_number)
    new = kind.revision_for(request.user, item, new_number)
    context = {
        **_item_context(kind, item, latest),
        "old": old,
        "new": new,
        "diffs": selectors.revision_diff(old, new),
        "numbers": list(range(latest.number, 0, -1)),
    }
    return render(request, "content/staff/diff.html", context)


@capability_required(EDIT)
def restore(request: HttpRequest, kind_key: str, public_id: uuid.UUID, number: int) -> HttpResponse:
    kind = _kind(kind_key)
    item = kind.fetch(request.user, public_id)
    revision = kind.revision_for(request.user, item, number)
    latest = kind.revisions(item).first()
    if request.method == "POST":
        try:
            restored = kind.restore(
                actor=request.user, item=item, revision=revision, request=request
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(kind.url("revisions", item))
        messages.success(
            request,
            f"Revision {number} restored as revision {restored.number}. It is not published "
            "yet: preview it, then publish.",
        )
        return redirect(kind.url("edit", item))
    context = {
        **_item_context(kind, item, latest),
        "revision": revision,
        "diffs": selectors.revision_diff(latest, revision),
    }
    return render(request, "content/staff/restore.html", context)
