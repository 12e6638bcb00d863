"""Rendered fragments kept in the cache (clinic.fragments): the version of the rows changes
with every write to them, so a kept fragment is never shown stale."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.middleware.csrf import CSRF_TOKEN_LENGTH, _unmask_cipher_token
from django.template import engines
from django.test import RequestFactory

from clinic.fragments import (
    KEPT_CSRF,
    DrawnForOneReader,
    RowsMatching,
    RowsOf,
    RowsReferencedBy,
    ValuesOf,
    cached_fragment,
    grouped_versions,
    kept_value,
    rows_version,
    rows_versions,
)
from clinic.models import Chair, Location


@pytest.fixture
def places(db) -> list[Location]:
    return [
        Location.objects.create(name=name, time_zone="America/New_York")
        for name in ("Riverside", "Hillcrest")
    ]


def version(*ids: int) -> str:
    return rows_version(Location.objects.filter(pk__in=ids))


def test_the_version_stays_while_nothing_is_written(places):
    ids = [place.pk for place in places]

    assert version(*ids) == version(*ids)


def test_every_update_makes_a_new_version_even_twice_in_one_transaction(places):
    ids = [place.pk for place in places]
    seen = {version(*ids)}

    Location.objects.filter(pk=ids[0]).update(name="Riverside East")
    seen.add(version(*ids))
    Location.objects.filter(pk=ids[0]).update(name="Riverside")  # back as it was
    seen.add(version(*ids))

    assert len(seen) == 3


def test_an_insert_or_a_delete_makes_a_new_version(places):
    first = version(*Location.objects.values_list("pk", flat=True))

    third = Location.objects.create(name="Lakeside", time_zone="America/Chicago")
    with_third = version(*Location.objects.values_list("pk", flat=True))
    third.delete()
    without = version(*Location.objects.values_list("pk", flat=True))

    assert len({first, with_third}) == 2
    assert without == first


def test_one_query_for_several_tables(places, django_assert_num_queries):
    with django_assert_num_queries(1):
        rows_version(Location.objects.all(), Location.objects.filter(pk=places[0].pk))


def test_a_kept_fragment_is_drawn_once_for_the_same_parts(db):
    cache.clear()
    drawn = []

    def draw() -> str:
        drawn.append(1)
        return "<p>drawn</p>"

    first = cached_fragment("test", "1", ("a", 1), draw)
    again = cached_fragment("test", "1", ("a", 1), draw)
    other = cached_fragment("test", "1", ("a", 2), draw)

    assert first == again == other == "<p>drawn</p>"
    assert len(drawn) == 2


def test_a_cache_that_fails_costs_the_drawing_not_the_page(db, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("the cache is down")

    monkeypatch.setattr(cache, "get", broken)

    assert cached_fragment("test", "1", ("b",), lambda: "<p>drawn</p>") == "<p>drawn</p>"


def test_rows_named_by_ids_have_the_same_version_as_their_queryset(places):
    ids = [place.pk for place in places]

    by_ids = rows_version(RowsOf(Location, "pk", ids))
    by_queryset = rows_version(Location.objects.filter(pk__in=ids))
    every = rows_version(RowsOf(Location))
    Location.objects.filter(pk=ids[0]).update(name="Riverside East")

    assert by_ids == by_queryset == every  # the two places are every place here
    assert rows_version(RowsOf(Location, "pk", ids)) != by_ids


def test_a_kept_form_gets_each_readers_own_csrf_token(db):
    """A fragment with a form is drawn once; each reader is served it with a token of
    their own CSRF secret, never the token of whoever it was drawn for."""
    cache.clear()
    template = engines["django"].from_string(
        '<form method="post">{% csrf_token %}<button>Save</button></form>'
    )
    factory = RequestFactory()
    readers = [factory.get("/"), factory.get("/")]
    served = [
        cached_fragment("test-form", "1", ("c",), lambda: template.render(KEPT_CSRF), request=r)
        for r in readers
    ]

    tokens = [html.split('value="')[1].split('"')[0] for html in served]
    secrets = [r.META["CSRF_COOKIE"] for r in readers]
    assert [len(t) for t in tokens] == [CSRF_TOKEN_LENGTH, CSRF_TOKEN_LENGTH]
    assert [_unmask_cipher_token(t) for t in tokens] == secrets
    assert secrets[0] != secrets[1]
    assert served[0].replace(tokens[0], "T") == served[1].replace(tokens[1], "T")


def test_rows_matching_a_queryset_changes_with_each_write_to_them(places):
    def matching() -> str:
        return rows_version(RowsMatching(Location.objects.filter(time_zone="America/New_York")))

    seen = [matching()]
    Location.objects.filter(pk=places[0].pk).update(name="Riverside East")
    seen.append(matching())
    third = Location.objects.create(name="Lakeside", time_zone="America/New_York")
    seen.append(matching())
    third.delete()
    seen.append(matching())
    Location.objects.filter(pk=places[1].pk).update(time_zone="America/Chicago")  # leaves
    seen.append(matching())

    assert len(set(seen[:3])) == 3
    assert seen[3] == seen[1]  # the same rows as before Lakeside
    assert seen[4] != seen[3]


def test_rows_matching_stays_while_nothing_is_written(places):
    rows = RowsMatching(Location.objects.filter(name__startswith="R"))

    assert rows_version(rows) == rows_version(rows)
    assert rows_version(rows).startswith("1.")


def test_a_kept_value_is_computed_once_per_parts(db):
    cache.clear()
    computed = []

    def compute() -> tuple[str, int]:
        computed.append(1)
        return ("<p>drawn</p>", len(computed))

    first = kept_value("test-value", "1", ("a", 1), compute)
    again = kept_value("test-value", "1", ("a", 1), compute)
    other = kept_value("test-value", "1", ("a", 2), compute)

    assert first == again == ("<p>drawn</p>", 1)
    assert other == ("<p>drawn</p>", 2)


def test_a_cache_that_fails_costs_the_value_not_the_page(db, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("the cache is down")

    monkeypatch.setattr(cache, "get", broken)

    assert kept_value("test-value", "1", ("b",), lambda: 42) == 42


def test_a_change_to_any_template_or_module_is_a_new_release(tmp_path, settings):
    """Kept copies are keyed by the release, so markup drawn by older code is never
    served after a deploy, whether or not a fragment's own version was changed."""
    from clinic.fragments import release

    (tmp_path / "templates").mkdir()
    page = tmp_path / "templates" / "page.html"
    page.write_text("<p>one</p>")
    settings.BASE_DIR = tmp_path
    try:
        release.cache_clear()
        first = release()
        release.cache_clear()
        same = release()
        page.write_text("<p>two</p>")
        release.cache_clear()
        changed = release()
    finally:
        release.cache_clear()

    assert first == same != changed


def test_the_rows_others_point_to_have_a_version_of_their_own(places, django_assert_num_queries):
    riverside, hillcrest = places
    chair = Chair.objects.create(location=riverside, name="Chair 1")
    place_of_chair = RowsReferencedBy(Location, Chair, ("location",), "pk", [chair.pk])
    with django_assert_num_queries(1):
        first = rows_versions(RowsOf(Chair, "pk", [chair.pk]), place_of_chair)
    assert rows_version(RowsOf(Chair, "pk", [chair.pk]), place_of_chair) == "/".join(first)

    Location.objects.filter(pk=hillcrest.pk).update(name="Hillcrest North")  # not its place
    assert rows_versions(place_of_chair) == first[1:]

    Location.objects.filter(pk=riverside.pk).update(name="Riverside East")  # its place
    renamed = rows_versions(place_of_chair)
    assert renamed != first[1:]

    Chair.objects.filter(pk=chair.pk).update(location=hillcrest)  # moved
    assert rows_versions(place_of_chair) not in (first[1:], renamed)


def test_rows_named_through_a_chain_of_subqueries(places):
    riverside, hillcrest = places
    chair = Chair.objects.create(location=riverside, name="Chair 1")
    chairs_of_riverside = ValuesOf(Chair, "pk", "location", [riverside.pk])
    places_of_those_chairs = RowsOf(
        Location, "pk", ValuesOf(Chair, "location", "pk", chairs_of_riverside)
    )
    first = rows_version(places_of_those_chairs)
    assert first == rows_version(RowsOf(Location, "pk", [riverside.pk]))

    Location.objects.filter(pk=hillcrest.pk).update(name="Hillcrest North")
    assert rows_version(places_of_those_chairs) == first
    Chair.objects.filter(pk=chair.pk).update(name="Chair 1A")  # the chair row, not the place
    assert rows_version(places_of_those_chairs) == first
    Location.objects.filter(pk=riverside.pk).update(name="Riverside East")
    assert rows_version(places_of_those_chairs) != first


def test_a_fragment_drawn_for_one_reader_is_served_but_not_kept(db):
    drawings = []

    def draw():
        drawings.append(1)
        return DrawnForOneReader("<p>a form for this reader</p>")

    first = cached_fragment("test-one-reader", "1", ("same",), draw)
    second = cached_fragment("test-one-reader", "1", ("same",), draw)

    assert first == second == "<p>a form for this reader</p>"
    assert len(drawings) == 2


def _prepared_plans() -> dict[str, tuple[int, int]]:
    """The prepared statements of this connection: their SQL, with how many generic and
    custom plans PostgreSQL made for them."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
        return {statement: (generic, custom) for statement, generic, custom in cursor.fetchall()}


def _of_version_queries(plans: dict[str, tuple[int, int]]) -> list[tuple[int, int]]:
    return [counts for statement, counts in plans.items() if "string_agg" in statement]


def test_a_version_query_is_prepared_once_and_planned_generically(places):
    ids = [place.pk for place in places]
    sources = (RowsOf(Location, "pk", ids), RowsOf(Chair, "location", ids))
    before = _of_version_queries(_prepared_plans())

    first = rows_version(*sources)
    Location.objects.filter(pk=ids[0]).update(name="Riverside East")
    second = rows_version(*sources)
    third = rows_version(*sources)

    assert first != second == third  # the prepared query still sees every write
    added = [counts for counts in _of_version_queries(_prepared_plans()) if counts not in before]
    # One statement, run three times, always by its generic plan: never planned again.
    assert added == [(3, 0)]


def test_a_version_of_rows_matching_a_range_is_planned_for_its_values(places):
    """A RowsMatching source reads a range by the queryset's own plan, which only a plan
    made for the values at hand reads off the right index: it is not prepared."""
    before = _of_version_queries(_prepared_plans())

    rows_version(RowsMatching(Location.objects.filter(name__gte="H")))

    assert _of_version_queries(_prepared_plans()) == before


def test_preparing_can_be_turned_off_for_a_pooler_that_cannot_keep_them(places, settings):
    settings.DATABASE_PREPARED_STATEMENTS = False
    before = _of_version_queries(_prepared_plans())

    version = rows_version(RowsOf(Location, "pk", [places[0].pk]))

    assert version.startswith("1.")
    assert _of_version_queries(_prepared_plans()) == before


def test_several_fragments_are_read_in_one_round_trip_and_each_drawn_once(db, monkeypatch):
    from clinic.fragments import Fragment, cached_fragments

    cache.clear()
    drawn: list[str] = []

    def drawing(name: str):
        def draw() -> str:
            drawn.append(name)
            return f"<p>{name}</p>"

        return draw

    reads = []
    get_many = cache.get_many
    monkeypatch.setattr(cache, "get_many", lambda keys: reads.append(keys) or get_many(keys))
    fragments = [
        Fragment("top", "1", ("a",), drawing("top")),
        Fragment("end", "1", ("a",), drawing("end")),
        Fragment("mine", "1", ("a",), lambda: DrawnForOneReader("<p>mine</p>")),
    ]

    first = cached_fragments(fragments)
    second = cached_fragments(fragments)

    assert first == second == ["<p>top</p>", "<p>end</p>", "<p>mine</p>"]
    assert drawn == ["top", "end"]  # kept after the first time
    assert [len(keys) for keys in reads] == [3, 3]  # one read of the cache a page


def test_grouped_versions_are_each_groups_version_in_one_query(places, django_assert_num_queries):
    riverside, hillcrest = places
    chair = Chair.objects.create(location=riverside, name="Chair 1")
    groups = {
        "chairs": [RowsOf(Chair, "pk", [chair.pk]), RowsOf(Location)],
        "places": [RowsOf(Location)],  # in both: read once
        "none": [],
    }

    with django_assert_num_queries(1):
        versions = grouped_versions(groups)

    assert versions == {
        "chairs": rows_version(*groups["chairs"]),
        "places": rows_version(*groups["places"]),
        "none": "",
    }
    Chair.objects.filter(pk=chair.pk).update(name="Chair 1A")
    changed = grouped_versions(groups)
    assert changed["chairs"] != versions["chairs"]
    assert changed["places"] == versions["places"]
    Location.objects.filter(pk=hillcrest.pk).update(name="Hillcrest North")
    assert grouped_versions(groups)["places"] != versions["places"]


def test_no_groups_read_nothing(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert grouped_versions({"empty": []}) == {"empty": ""}
