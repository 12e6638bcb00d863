"""The extension points through which a higher app adds to a lower layer's page or query."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from clinic.contributions import Contributions, Refinements


def test_each_contributor_adds_its_names_and_sees_those_before_it():
    page = Contributions("test page")

    @page.register
    def sessions(user, *, shown):
        return {"sessions": [f"{user}'s session"]}

    @page.register
    def outcomes(user, *, shown):
        return {"outcomes": len(shown["sessions"])}

    context = {"title": "Chart"}
    page.add_to(context, "nina")

    assert context == {"title": "Chart", "sessions": ["nina's session"], "outcomes": 1}


def test_registering_again_adds_nothing_twice():
    page = Contributions("test page")
    calls = []

    def panel(*, shown):
        calls.append(1)
        return {"panel": True}

    page.register(panel)
    page.register(panel)
    page.add_to({})

    assert calls == [1]


def test_a_name_the_page_already_has_is_refused():
    page = Contributions("test page")
    page.register(lambda *, shown: {"title": "another"})

    with pytest.raises(ImproperlyConfigured, match="test page adds title"):
        page.add_to({"title": "Chart"})


def test_a_contributor_cannot_change_what_came_before():
    page = Contributions("test page")

    @page.register
    def meddler(*, shown):
        shown["title"] = "changed"
        return {}

    with pytest.raises(TypeError):
        page.add_to({"title": "Chart"})


def test_refinements_apply_in_the_order_they_were_registered():
    query = Refinements("test query")
    query.register(lambda steps: [*steps, "alerts"])
    query.register(lambda steps: [*steps, "state"])

    assert query.apply(["appointments"]) == ["appointments", "alerts", "state"]
