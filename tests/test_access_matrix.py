"""Who sees which staff pages and navigation: every persona against every page.

The expectations are written out here, on purpose not derived from
``clinic.permissions``: if the role-to-capability mapping is ever wrong, this table
and the code disagree and the test says so.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import quote

import pytest

from conftest import PASSWORD
from tests.url_patterns import all_routes

SIGNED_IN = ["fran", "nina", "phil", "alice", "edie"]
PERSONAS = [*SIGNED_IN, "olga", "anonymous"]

CLINICAL_NAV = ["Home", "Schedule", "Patients", "Locations"]
NAVIGATION = {
    "fran": CLINICAL_NAV,
    "nina": [*CLINICAL_NAV, "Ledger", "Outcomes"],
    "phil": [*CLINICAL_NAV, "Ledger", "Outcomes"],
    "alice": [
        "Home",
        "Schedule",
        "Patients",
        "Locations",
        "Ledger",
        "Outcomes",
        "Staff accounts",
        "Consent forms",
        "Content",
        "Audit log",
        "Django admin",
    ],
    "edie": ["Home", "Content"],
    "olga": [],  # deactivated: treated as signed out
    "anonymous": [],
}

ALLOWED = {
    "/staff/": {"fran", "nina", "phil", "alice", "edie"},
    "/staff/locations/": {"fran", "nina", "phil", "alice"},
    "/staff/patients/": {"fran", "nina", "phil", "alice"},
    "/staff/patients/consent-documents/": {"alice"},
    "/api/v1/patients/": {"fran", "nina", "phil", "alice"},
    "/staff/schedule/": {"fran", "nina", "phil", "alice"},
    "/staff/schedule/waitlist/": {"fran", "nina", "phil", "alice"},
    "/api/v1/appointments/": {"fran", "nina", "phil", "alice"},
    "/api/v1/courses/": {"fran", "nina", "phil", "alice"},
    "/api/v1/waitlist/": {"fran", "nina", "phil", "alice"},
    # The registrant answers for the ledger in an inspection: clinic admins read and export
    # it; only those who handle the drug write to it (receive, waste, adjust, count).
    "/staff/ledger/": {"nina", "phil", "alice"},
    "/staff/ledger/receive/": {"nina", "phil"},
    "/staff/ledger/export/": {"nina", "phil", "alice"},
    "/api/v1/ledger/lots/": {"nina", "phil", "alice"},
    # Aggregates for clinic admins; only clinicians see who worsened or is overdue.
    "/staff/outcomes/": {"nina", "phil", "alice"},
    "/staff/accounts/": {"alice"},
    # Everyone's own account page, and making a personal API token there.
    "/staff/accounts/me/tokens/new/": {"fran", "nina", "phil", "alice", "edie"},
    "/staff/audit/": {"alice"},
    "/admin/": {"alice"},
    "/api/v1/me/": {"fran", "nina", "phil", "alice", "edie"},
    "/staff/content/": {"alice", "edie"},
    "/staff/content/faq/": {"alice", "edie"},
    "/staff/content/articles/": {"alice", "edie"},
    "/api/v1/content/editor/faq/": {"alice", "edie"},
    "/api/v1/content/editor/articles/": {"alice", "edie"},
    # "Forgot your password?" answers anyone, signed in or not.
    "/staff/password-reset/": set(PERSONAS),
    "/staff/password-reset/sent/": set(PERSONAS),
    # Published content is public: everyone reads it, signed in or not.
    "/api/v1/content/faq/": set(PERSONAS),
    "/api/v1/content/articles/": set(PERSONAS),
    # Forms for new records.
    "/staff/patients/new/": {"fran", "nina", "phil", "alice"},
    "/staff/patients/consent-documents/new/": {"alice"},
    "/staff/schedule/book/": {"fran", "nina", "phil", "alice"},
    "/staff/schedule/waitlist/new/": {"fran", "nina", "phil", "alice"},
    "/staff/schedule/appointment-types/": {"alice"},
    "/staff/content/faq/new/": {"alice", "edie"},
    "/staff/content/articles/new/": {"alice", "edie"},
    "/staff/locations/new/": {"alice"},
    "/staff/accounts/new/": {"alice"},
    # Everyone's own account.
    "/staff/accounts/me/": set(SIGNED_IN),
    "/staff/accounts/me/password/": set(SIGNED_IN),
    "/staff/accounts/me/second-factor/": set(SIGNED_IN),
    "/staff/accounts/second-factor-policy/": {"alice"},
    "/api/v1/locations/": {"fran", "nina", "phil", "alice"},
    "/api/v1/sessions/": {"nina", "phil"},
    # The API's description is public (drf-spectacular's default); it holds no data.
    "/api/schema/": set(PERSONAS),
    "/api/docs/": set(PERSONAS),
}

# Routes with no row above, each with the reason. Every other route in the URLconf must
# have a row: test_every_route_in_the_urlconf_has_a_row fails for a new one without.
NOT_IN_THE_MATRIX = {
    # Public pages, for everyone signed in or not (content/tests/test_public_pages.py).
    "/": "the public home page",
    "/conditions/": "public",
    "/locations/": "public",
    "/faq/": "public",
    "/learn/": "public",
    "/sitemap.xml": "public",
    "/robots.txt": "public",
    "/book/": "public booking (scheduling/tests/test_public_booking.py)",
    "/staff/login/": "the sign-in page, for everyone",
    # Patient-link pages: a token, not a role, opens them (patients/tests/test_links_and_staff.py
    # refuses staff sessions on them); the "done" pages show nothing about anyone.
    "/p/intake/done/": "public thank-you page",
    "/p/consent/signed/": "public thank-you page",
    "/p/questionnaire/done/": "public thank-you page",
    "/p/check-in/done/": "public thank-you page",
    # Webhooks: a signature, not a role (clinic/tests/test_inbound_sms.py, test_twilio.py).
    "/m/sms/inbound/": "signed webhook",
    "/m/sms/twilio/": "signed webhook",
    # POST only, or needs parameters to mean anything; each view's tests check its roles.
    "/staff/logout/": "POST only, for anyone signed in",
    "/staff/content/preview/": "POST only (content/tests/test_staff_pages.py)",
    "/staff/accounts/me/sessions/revoke-others/": "POST only (clinic/tests/test_staff_sessions.py)",
    "/staff/accounts/me/second-factor/app/remove/": "POST only (test_second_factor.py)",
    "/staff/accounts/me/second-factor/recovery-codes/": "POST only (test_second_factor.py)",
    # Signing in: the second step, for a session that has passed the password but not yet its
    # second factor (clinic/tests/test_second_factor.py, tests/browser/test_passkey.py).
    "/staff/second-factor/verify/": "the sign-in's second step",
    "/staff/second-factor/set-up/": "the sign-in's second step",
    "/staff/second-factor/set-up/app/": "the sign-in's second step",
    "/staff/second-factor/set-up/passkey/": "the sign-in's second step",
    "/staff/second-factor/set-up/passkey/added/": "the sign-in's second step",
    "/staff/second-factor/recovery-codes/": "shown once after setting up a second factor",
    "/staff/second-factor/passkeys/registration/begin/": "passkey ceremony (POST, JSON)",
    "/staff/second-factor/passkeys/registration/complete/": "passkey ceremony (POST, JSON)",
    "/staff/second-factor/passkeys/authentication/begin/": "passkey ceremony (POST, JSON)",
    "/staff/second-factor/passkeys/authentication/complete/": "passkey ceremony (POST, JSON)",
    "/staff/second-factor/passkeys/jsi18n/": "the passkey script's messages, no data",
    "/staff/schedule/courses/new/": "needs ?patient= (scheduling/tests/test_courses_pages.py)",
    "/api/v1/slots/": "needs a location and dates (scheduling/tests/test_api.py)",
    "/api/v1/courses/plan/": "POST only (scheduling/tests/test_api_courses.py)",
    "/api/v1/ledger/export.csv": "needs a date range (infusions/tests/test_api_ledger.py)",
}
# Not here either, by design: routes with a parameter (an id or a token), whose roles each
# app's own tests check against a real record, the API ones also in the schema-driven fuzz
# test for every role (tests/test_api_fuzz.py); and the Django admin's pages, behind its own
# permission check (row "/admin/").
ADMIN_PREFIX = "admin/"


VOID_ELEMENTS = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "wbr"}


class _NavLinks(HTMLParser):
    """Collects the text of the links inside the element with data-testid="staff-nav"."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self._depth = 0  # open elements inside the nav, 0 when outside it
        self._in_link = False
        self.found = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID_ELEMENTS:
            return
        if self._depth:
            self._depth += 1
        elif ("data-testid", "staff-nav") in attrs:
            self._depth = 1
            self.found = True
        if self._depth and tag == "a":
            self._in_link = True
            self.links.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID_ELEMENTS:
            return
        if tag == "a":
            self._in_link = False
        if self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._in_link:
            self.links[-1] += data


def staff_navigation(html: str) -> list[str]:
    parser = _NavLinks()
    parser.feed(html)
    return [" ".join(text.split()) for text in parser.links]


@pytest.fixture
def signed_in_client(request: pytest.FixtureRequest, client, db):
    """A test client signed in as the persona named by the test's ``persona`` parameter."""

    def sign_in(persona: str):
        if persona != "anonymous":
            user = request.getfixturevalue(persona)
            client.force_login(user, backend="clinic.auth.EmailBackend")
        return client

    return sign_in


@pytest.mark.parametrize("persona", PERSONAS)
def test_it_shows_each_persona_exactly_the_navigation_of_their_roles(signed_in_client, persona):
    client = signed_in_client(persona)

    response = client.get("/staff/", follow=True)

    assert response.status_code == 200
    assert staff_navigation(response.content.decode()) == NAVIGATION[persona]


@pytest.mark.parametrize("url", list(ALLOWED))
@pytest.mark.parametrize("persona", PERSONAS)
def test_it_lets_each_persona_reach_only_the_pages_of_their_roles(signed_in_client, persona, url):
    client = signed_in_client(persona)

    response = client.get(url)

    if persona in ALLOWED[url]:
        assert response.status_code == 200
    elif url == "/admin/":
        # Django admin sends everyone it refuses to its own sign-in page.
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")
    elif url.startswith("/api/"):
        expected = {403} if persona in SIGNED_IN else {401, 403}
        assert response.status_code in expected
    elif persona in SIGNED_IN:
        assert response.status_code == 403
    else:
        assert response.status_code == 302
        assert response["Location"] == f"/staff/login/?next={quote(url)}"


def test_the_navigation_parser_reads_links_inside_the_staff_nav_only():
    html = """
      <a href="/">Outside</a>
      <ul data-testid="staff-nav">
        <li><a href="/staff/"><img src="h.svg" alt="">Home</a></li>
        <li><a href="/staff/audit/"> Audit
            log </a><br></li>
      </ul>
      <a href="/x/">After</a>
    """

    assert staff_navigation(html) == ["Home", "Audit log"]


def test_a_deactivated_account_cannot_sign_in(client, olga):
    response = client.post("/staff/login/", {"username": olga.email, "password": PASSWORD})

    assert response.status_code == 200
    assert "do not match an active staff account" in response.content.decode()
    assert client.get("/staff/").status_code == 302


def test_every_route_in_the_urlconf_has_a_row():
    missing = []
    for route in all_routes():
        if route.route.startswith(ADMIN_PREFIX) or "<" in route.route or route.is_regex:
            continue
        url = "/" + route.route
        if url not in ALLOWED and url not in NOT_IN_THE_MATRIX:
            missing.append(f"{url} ({route.name})")
    assert not missing, (
        "These routes have no row in tests/test_access_matrix.py: add one to ALLOWED (who "
        "may open it), or to NOT_IN_THE_MATRIX with the reason: " + ", ".join(missing)
    )


def test_the_matrix_has_no_row_for_a_route_that_is_gone():
    urls = {"/" + route.route for route in all_routes()}
    stale = [url for url in [*ALLOWED, *NOT_IN_THE_MATRIX] if url not in urls]
    assert not stale, f"Rows for routes that no longer exist: {stale}"
