"""The extension points through which a higher app adds to a lower layer's page or query."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from clinic.contributions import Contributions, KeptVersions, Refinements, kept_version


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


@pytest.fixture
def places(db):
    from clinic.models import Location

    return [
        Location.objects.create(name=name, time_zone="America/New_York")
        for name in ("Riverside", "Hillcrest")
    ]


def test_kept_versions_are_read_with_the_pages_own_in_one_query(places, django_assert_num_queries):
    from clinic.fragments import RowsOf, rows_version
    from clinic.models import Location

    riverside = places[0]
    page = KeptVersions("test page")

    @page.register
    def only_for_nina(user, place):
        return {"place": [RowsOf(Location, "pk", [place.pk])]} if user == "nina" else {}

    with django_assert_num_queries(1):
        versions = page.read({"every place": [RowsOf(Location)]}, "nina", riverside)

    assert versions == {
        "every place": rows_version(RowsOf(Location)),
        "place": rows_version(RowsOf(Location, "pk", [riverside.pk])),
    }
    assert page.read({}, "fran", riverside) == {}


def test_a_version_declared_twice_is_refused(db):
    page = KeptVersions("test page")
    page.register(lambda user: {"summary": []})

    with pytest.raises(ImproperlyConfigured, match="test page is declared twice: summary"):
        page.read({"summary": []}, "nina")


def test_a_contributor_called_on_its_own_reads_its_version_itself():
    reads = []

    def read():
        reads.append(1)
        return "its own"

    assert kept_version({"kept_versions": {"schedule": "read"}}, "schedule", read) == "read"
    assert kept_version({"kept_versions": {}}, "schedule", read) == "its own"
    assert kept_version({}, "schedule", read) == "its own"
    assert reads == [1, 1]
