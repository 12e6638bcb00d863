"""``{% quick_field %}`` writes what crispy's ``|as_crispy_field`` writes (apart from the blank
lines crispy's templates leave), for the widgets it handles, and hands the rest to crispy."""

from __future__ import annotations

import re

import pytest
from crispy_forms.templatetags.crispy_forms_filters import as_crispy_field
from django import forms
from django.http import QueryDict

from clinic.forms import LocationChoiceField
from clinic.models import Location
from clinic.templatetags.quick_fields import quick_field
from scheduling.tests.factories import LocationFactory


class Example(forms.Form):
    q = forms.CharField(label="Search", max_length=100, required=False, help_text="A <b>hint</b>.")
    name = forms.CharField(label="Name & title")
    email = forms.EmailField(required=False)
    colour = forms.ChoiceField(
        choices=[("", "Any colour"), ("red", "Red"), ("blue", "Blue <ish>")], required=False
    )
    location = LocationChoiceField(required=False, empty_label="Any location")
    agreed = forms.BooleanField(required=False)
    grouped = forms.ChoiceField(
        choices=[("Warm", [("red", "Red")]), ("Cold", [("blue", "Blue")])], required=False
    )


def same_markup(html: str) -> str:
    """Markup with the whitespace between and inside tags that templates leave taken out."""
    html = re.sub(r">\s+", ">", str(html))
    html = re.sub(r"\s+<", "<", html)
    return re.sub(r"\s+", " ", html).strip()


def form(data: str = "", *, locations=None) -> Example:
    example = Example(QueryDict(data) if data else None)
    example.fields["location"].queryset = locations or Location.objects.none()
    if data:
        example.is_valid()
    return example


@pytest.mark.parametrize(
    "data",
    [
        "",  # unbound: no value, no error
        "q=Rivera&name=Jo&colour=blue&email=jo@example.org",  # values and a selection
        "q=" + "x" * 101 + "&colour=green&email=not-an-address",  # an error on each
    ],
)
@pytest.mark.parametrize("name", ["q", "name", "email", "colour", "location"])
def test_it_writes_what_crispy_writes(db, data, name):
    riverside = LocationFactory(name="Riverside")
    LocationFactory(name="Old <Town>", is_active=False)
    locations = Location.objects.order_by("name")
    data = data.replace("colour=blue", f"colour=blue&location={riverside.public_id}")

    # Each from a form of its own: crispy adds its classes to the widget it renders.
    quick = quick_field(form(data, locations=locations)[name])
    crispy = as_crispy_field(form(data, locations=locations)[name])

    assert same_markup(quick) == same_markup(crispy)


def test_the_markup_holds_the_state_of_the_field(db):
    example = form("q=" + "x" * 101 + "&colour=blue")

    q, colour = str(quick_field(example["q"])), str(quick_field(example["colour"]))

    assert 'class="textinput form-control is-invalid" aria-invalid="true"' in q
    assert 'aria-describedby="id_q_helptext id_q_error"' in q
    assert 'id="error_1_id_q"' in q and "A <b>hint</b>." in q
    assert '<option value="blue" selected>Blue &lt;ish&gt;</option>' in colour
    assert 'class="select form-select"' in colour and "is-invalid" not in colour


def test_a_required_field_is_marked_so(db):
    html = str(quick_field(form()["name"]))

    assert 'class="form-label requiredField">Name &amp; title<span class="asteriskField">*' in html
    assert 'class="textinput form-control" required id="id_name"' in html


@pytest.mark.parametrize("name", ["agreed", "grouped"])
def test_other_widgets_are_left_to_crispy(db, name):
    assert str(quick_field(form()[name])) == str(as_crispy_field(form()[name]))
