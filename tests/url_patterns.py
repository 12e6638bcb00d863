"""Every route in the URLconf, for tests that must cover them all (the access matrix, the
cache headers): walked from Django's resolver, so a new route is included the day it is
added."""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RoutePattern

# A value each path converter accepts, so a route can be requested (a made-up id: the
# answer is then usually 404, which still goes through every middleware).
EXAMPLE_VALUES = {
    "uuid": "00000000-0000-4000-8000-000000000000",
    "int": "1",
    "str": "example",
    "slug": "example",
    "path": "example",
}


@dataclass(frozen=True)
class Route:
    route: str  # as written in the URLconf, e.g. "staff/patients/<uuid:patient_id>/"
    name: str  # with its namespaces, e.g. "patients:chart"
    is_regex: bool  # a re_path() somewhere on the way (the Django admin's app pages)

    def example_url(self) -> str:
        """The route with a made-up value for each parameter: "/staff/patients/0000…/"."""
        assert not self.is_regex, f"{self.route} is a regular expression"
        return example_url(self.route)


def example_url(route: str) -> str:
    """``route`` (as written in the URLconf, with or without its leading slash) with a
    made-up value for each parameter."""
    return "/" + re.sub(
        r"<(?:(\w+):)?\w+>",
        lambda match: EXAMPLE_VALUES[match.group(1) or "str"],
        route.removeprefix("/"),
    )


def all_routes() -> list[Route]:
    return list(_walk(get_resolver().url_patterns, "", "", False))


def _walk(patterns: list, prefix: str, namespace: str, is_regex: bool):
    for pattern in patterns:
        regex = is_regex or not isinstance(pattern.pattern, RoutePattern)
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
            yield from _walk(pattern.url_patterns, route, inner, regex)
        elif isinstance(pattern, URLPattern):
            yield Route(route=route, name=namespace + (pattern.name or ""), is_regex=regex)
