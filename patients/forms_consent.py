"""Forms for consent documents (clinic admins) and for signing one (patients).

They only collect input: whether a document is complete, and whether a signature is
acceptable, is decided by ``patients.services.consent``, whose messages the views put
next to the fields here.
"""

from __future__ import annotations

from typing import Any

from django import forms

from patients.models import ConsentDocument
from patients.services.consent import MAX_SECTIONS, TITLE_MAX_LENGTH

# --- Writing a consent document ----------------------------------------------------------


class ConsentDocumentForm(forms.Form):
    title = forms.CharField(
        label="Title",
        max_length=TITLE_MAX_LENGTH,
        required=False,
        help_text="Shown at the top of the form the patient signs.",
    )
    introduction = forms.CharField(
        label="Introduction",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Optional. A few sentences before the first section: what this form is for.",
    )

    @staticmethod
    def initial_for(document: ConsentDocument) -> dict[str, Any]:
        return {"title": document.title, "introduction": document.introduction}


class ConsentSectionForm(forms.Form):
    heading = forms.CharField(
        label="Heading",
        max_length=200,
        required=False,
        help_text="Short: the patient ticks “I have read and understand:” followed by it.",
    )
    text = forms.CharField(label="Text", required=False, widget=forms.Textarea(attrs={"rows": 6}))

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not (data.get("heading", "").strip() or data.get("text", "").strip())


class BaseConsentSectionFormSet(forms.BaseFormSet):
    default_error_messages = {
        **forms.BaseFormSet.default_error_messages,
        "too_many_forms": f"A consent form can have at most {MAX_SECTIONS} sections; merge some.",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set by the view from the service's ValidationError; shown above the sections.
        self.service_errors: list[str] = []

    def sections(self) -> list[dict[str, str]]:
        """The filled-in sections in the order shown; rows left blank are not sections."""
        return [
            {"heading": form.cleaned_data["heading"], "text": form.cleaned_data["text"]}
            for form in self.forms
            if not form.is_blank()
        ]


ConsentSectionFormSet = forms.formset_factory(
    ConsentSectionForm,
    formset=BaseConsentSectionFormSet,
    extra=2,
    max_num=MAX_SECTIONS,
    absolute_max=MAX_SECTIONS + 2,
    validate_max=True,
)


def section_formset(
    data: Any = None, *, document: ConsentDocument | None = None
) -> BaseConsentSectionFormSet:
    """The sections of ``document`` to edit, plus two blank rows for new sections."""
    initial = [dict(section) for section in document.sections] if document else None
    return ConsentSectionFormSet(data, initial=initial, prefix="sections")


# --- Signing ------------------------------------------------------------------------------


class ConsentSignForm(forms.Form):
    """One checkbox per section, then the typed name; ``document`` says which version was shown."""

    document = forms.UUIDField(widget=forms.HiddenInput)
    signed_name = forms.CharField(
        label="Your full legal name",
        max_length=200,
        required=False,
        help_text="First and last name, as on file with the clinic. Typing it is your signature.",
        widget=forms.TextInput(attrs={"autocomplete": "name", "autocapitalize": "words"}),
    )

    def __init__(self, *args: Any, document: ConsentDocument, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"] = {**kwargs["initial"], "document": document.public_id}
        super().__init__(*args, **kwargs)
        self.consent_document = document
        for index, section in enumerate(document.sections):
            self.fields[self.section_field(index)] = forms.BooleanField(
                label=f"I have read and understand: {section['heading']}", required=False
            )
        self.order_fields([self.section_field(i) for i in range(len(document.sections))])

    @staticmethod
    def section_field(index: int) -> str:
        return f"section_{index}"

    def sections_with_fields(self) -> list[tuple[dict[str, str], forms.BoundField]]:
        return [
            (section, self[self.section_field(index)])
            for index, section in enumerate(self.consent_document.sections)
        ]

    def acknowledged(self) -> list[str]:
        """Headings of the sections the patient ticked."""
        return [
            section["heading"]
            for index, section in enumerate(self.consent_document.sections)
            if self.cleaned_data.get(self.section_field(index))
        ]

    def flag_unticked(self) -> None:
        """Put a note next to every box left unticked (the service's message says which)."""
        for index, _section in enumerate(self.consent_document.sections):
            name = self.section_field(index)
            if not self.cleaned_data.get(name):
                self.add_error(name, "Tick this box once you have read and understood the section.")
