"""Forms of the staff content pages. They check shapes; ``content.services`` checks the rules
(empty question, slug format and uniqueness, a publication time in the past)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.urls import reverse
from django.utils import timezone

from content.models import ArticleRevision, FaqCategory, FaqRevision
from content.selectors import faq_categories


def _markdown_area(rows: int) -> forms.Textarea:
    return forms.Textarea(attrs={"rows": rows, "class": "font-monospace"})


def _live_preview(field: forms.Field, name: str) -> None:
    """Post the field to the preview endpoint as the editor types; the answer replaces the
    preview beside it (``templates/content/staff/partials/_markdown_field.html``)."""
    field.widget.attrs.update(
        {
            "hx-post": f"{reverse('content_staff:markdown-preview')}?field={name}",
            "hx-trigger": "input changed delay:400ms",
            "hx-target": f"#{name}-preview",
            "hx-swap": "innerHTML",
            "hx-sync": "this:replace",
            "aria-controls": f"{name}-preview",
        }
    )


class FaqEntryForm(forms.Form):
    category = forms.ModelChoiceField(
        label="Category",
        queryset=FaqCategory.objects.none(),
        to_field_name="public_id",
        empty_label="Choose a category",
        error_messages={
            "required": "Choose the category this question belongs under.",
            "invalid_choice": "That category is not in the list. Choose one from it.",
        },
    )
    question = forms.CharField(
        label="Question",
        max_length=200,
        help_text="As a reader would ask it, e.g. “How long does a session take?”",
        error_messages={"required": "Enter the question, as a reader would ask it."},
    )
    answer = forms.CharField(
        label="Answer",
        widget=_markdown_area(10),
        help_text="Markdown: **bold**, *italic*, [a link](https://example.org), lists with -.",
        error_messages={"required": "Write the answer (Markdown); it cannot be empty."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = faq_categories()
        _live_preview(self.fields["answer"], "answer")

    @staticmethod
    def initial_for(revision: FaqRevision) -> dict[str, Any]:
        return {
            "category": revision.entry.category.public_id,
            "question": revision.question,
            "answer": revision.answer,
        }


class ArticleForm(forms.Form):
    title = forms.CharField(
        label="Title", max_length=150, error_messages={"required": "Enter a title."}
    )
    # A plain text field: the service says what a slug may contain, next to the field.
    slug = forms.CharField(
        label="Slug",
        max_length=120,
        help_text="The article's address: /learn/<slug>/. Lowercase letters, numbers and "
        "hyphens. Changing it after publishing keeps the old address working.",
        error_messages={
            "required": "Enter the article's address (slug), e.g. after-your-infusion."
        },
    )
    summary = forms.CharField(
        label="Summary",
        max_length=300,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One or two sentences, shown in the list of articles.",
        error_messages={"required": "Write a one- or two-sentence summary for lists."},
    )
    hero_text = forms.CharField(
        label="Hero text",
        max_length=300,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="A short line shown large at the top of the article. Optional.",
    )
    body = forms.CharField(
        label="Body",
        widget=_markdown_area(18),
        help_text="Markdown: ## Heading, **bold**, *italic*, [a link](https://example.org), "
        "lists with -.",
        error_messages={"required": "Write the article (Markdown)."},
    )
    seo_title = forms.CharField(
        label="SEO title",
        max_length=70,
        required=False,
        help_text="The title search engines show; the title if left empty. Up to 70 characters.",
    )
    seo_description = forms.CharField(
        label="SEO description",
        max_length=160,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="The snippet search engines show; the summary if left empty. Up to 160 "
        "characters.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _live_preview(self.fields["body"], "body")

    @staticmethod
    def initial_for(revision: ArticleRevision) -> dict[str, Any]:
        return {name: getattr(revision, name) for name in ArticleForm.base_fields}


class PublishForm(forms.Form):
    when = forms.ChoiceField(
        label="When",
        choices=[("now", "Publish now"), ("schedule", "Schedule for a later time")],
        initial="now",
        widget=forms.RadioSelect,
        error_messages={"required": "Choose to publish now or at a later time."},
    )
    publish_at = forms.DateTimeField(
        label="Publish at",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        error_messages={"invalid": "Enter a date and time like 2026-03-27 09:00."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        zone = timezone.get_current_timezone_name()
        field = self.fields["publish_at"]
        field.help_text = f"On the clinic's clock ({zone}). Only when scheduling."

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        scheduling = cleaned.get("when") == "schedule"
        if scheduling and not cleaned.get("publish_at") and "publish_at" not in self.errors:
            self.add_error("publish_at", "Choose the date and time to publish at.")
        return cleaned

    def scheduled_for(self) -> datetime | None:
        """The time to publish at, or ``None`` for now."""
        if self.cleaned_data["when"] == "schedule":
            return self.cleaned_data["publish_at"]
        return None


class DiffForm(forms.Form):
    """Which two revisions to compare: ?old=<number>&new=<number>."""

    old = forms.IntegerField(min_value=1, required=False)
    new = forms.IntegerField(min_value=1, required=False)
