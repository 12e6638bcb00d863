"""What other apps add to a page or a query that a lower layer owns.

The apps are layered (``pyproject.toml``, ``[tool.importlinter]``): ``clinic`` knows no
domain app, ``patients`` knows neither ``scheduling`` nor ``infusions``, ``scheduling``
does not know ``infusions``. Yet the staff home shows open safety alerts and vitals alerts,
the patient chart shows appointments and infusion sessions, and the day board's cards show
each infusion's state. So the page's owner declares a ``Contributions`` point here or
beside its page, and the app above registers into it from its ``AppConfig.ready`` (as
``clinic.messaging.registry`` takes message kinds and ``scheduling.session_owner`` takes
the session's owner)::

    # patients/views/chart.py (the owner)
    chart_page = Contributions("patient chart")

    # infusions/contributions.py (imported by InfusionsConfig.ready)
    @chart_page.register
    def infusion_sessions(user, patient, *, shown):
        return {"infusion_sessions": sessions_of_patient(user, patient)}

A contributor returns the names it adds to the page's context; the owner documents which
names its page shows. Two contributors may not add the same name.

A page whose sections are kept rendered (``clinic.fragments``) also declares a
``KeptVersions`` point: each app says which rows its kept sections are drawn from, and the
page reads the versions of all of them, its own too, in one query before its contributors
run (the patient chart: ``patients.views.chart.chart_versions``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from clinic.fragments import grouped_versions

Contributor = Callable[..., Mapping[str, Any]]


class Contributions:
    """An extension point of a page: ``register`` contributors, then ``add_to`` the page's
    context what they add."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._contributors: list[Contributor] = []

    def __repr__(self) -> str:
        return f"Contributions({self.name!r}, {len(self._contributors)} registered)"

    def register(self, contributor: Contributor) -> Contributor:
        """Add ``contributor`` (once: registering it again changes nothing, so a ``ready``
        that runs twice in tests does no harm). Usable as a decorator."""
        if contributor not in self._contributors:
            self._contributors.append(contributor)
        return contributor

    def add_to(self, context: dict[str, Any], *args: Any) -> None:
        """Add every contributor's names to ``context``. Each is called with ``args`` and
        ``shown=``, a read-only view of the context so far (the page's own names and those
        of the contributors before it: they run in the order of ``INSTALLED_APPS``, lower
        layers first), so that it can reuse what is already read instead of reading it
        again. A name the page or an earlier contributor has is refused."""
        for contributor in self._contributors:
            added = contributor(*args, shown=MappingProxyType(context))
            clash = context.keys() & added.keys()
            if clash:
                raise ImproperlyConfigured(
                    f"A contribution to the {self.name} adds {', '.join(sorted(clash))}, "
                    "which the page already has."
                )
            context.update(added)


class Refinements:
    """An extension point for a query: each registered function takes the queryset and
    returns it refined (annotated, say), in the order they were registered."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._refiners: list[Callable[[Any], Any]] = []

    def __repr__(self) -> str:
        return f"Refinements({self.name!r}, {len(self._refiners)} registered)"

    def register(self, refiner: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Add ``refiner`` (once). Usable as a decorator."""
        if refiner not in self._refiners:
            self._refiners.append(refiner)
        return refiner

    def apply(self, value: Any) -> Any:
        for refiner in self._refiners:
            value = refiner(value)
        return value


class KeptVersions:
    """An extension point for the versions of a page's kept fragments
    (``clinic.fragments``): each registered function takes the page's arguments and returns,
    for each fragment of its own the reader will be shown, the sources of its version
    (nothing for a reader who will not see it). The page reads them all, with its own, in
    one query (``read``) and gives its contributors the result as ``shown["kept_versions"]``,
    where a query each cost a round trip and its planning."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._declarers: list[Callable[..., Mapping[str, Sequence[Any]]]] = []

    def __repr__(self) -> str:
        return f"KeptVersions({self.name!r}, {len(self._declarers)} registered)"

    def register(
        self, declarer: Callable[..., Mapping[str, Sequence[Any]]]
    ) -> Callable[..., Mapping[str, Sequence[Any]]]:
        """Add ``declarer`` (once). Usable as a decorator."""
        if declarer not in self._declarers:
            self._declarers.append(declarer)
        return declarer

    def read(self, own: Mapping[str, Sequence[Any]], *args: Any) -> dict[str, str]:
        """The version of each fragment: the page's ``own`` and those its declarers give
        for ``args``, in one query. A name declared twice is refused."""
        groups = dict(own)
        for declarer in self._declarers:
            declared = declarer(*args)
            clash = groups.keys() & declared.keys()
            if clash:
                raise ImproperlyConfigured(
                    f"A version of the {self.name} is declared twice: {', '.join(sorted(clash))}."
                )
            groups.update(declared)
        return grouped_versions(groups)


def kept_version(shown: Mapping[str, Any], name: str, read: Callable[[], str]) -> str:
    """The version of fragment ``name`` the page read with the others
    (``KeptVersions.read``, in ``shown["kept_versions"]``), or ``read()`` when it did not
    (a contributor called on its own)."""
    versions = shown.get("kept_versions") or {}
    return versions[name] if name in versions else read()


staff_home_page = Contributions("staff home")
"""The staff home page (``clinic.views.home``): contributors take the user and add panels.
It shows ``safety`` (open safety alerts) and ``open_alerts`` (sessions with open vitals
alerts) when they are there."""
