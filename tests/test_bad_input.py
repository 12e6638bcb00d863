"""Nonsense in a query string or a form gets an answer, never a server error."""

import pytest

GARBAGE = {
    "page": "-1'; DROP TABLE",
    "q": "\u202e<script>alert(1)</script>" + "x" * 500,  # NUL: tests/test_bad_requests.py
    "role": "astronaut",
    "status": "maybe",
    "action": "explode",
    "actor": "not-a-uuid",
    "occurred_from": "yesterday-ish",
    "occurred_to": "31/31/2026",
    "object_id": "%%%",
}

PAGES = [
    "/staff/",
    "/staff/locations/",
    "/staff/accounts/",
    "/staff/audit/",
    "/api/v1/locations/",
    "/api/v1/me/",
    "/staff/patients/",
    "/api/v1/patients/",
    "/staff/schedule/",
    "/staff/schedule/waitlist/",
    "/api/v1/appointments/",
    "/api/v1/courses/",
    "/api/v1/waitlist/",
    "/api/v1/slots/",
]


@pytest.mark.parametrize("url", PAGES)
def test_list_pages_shrug_off_nonsense_parameters(client, alice, url):
    client.force_login(alice)

    response = client.get(url, GARBAGE)

    assert response.status_code in {200, 400, 404}


@pytest.mark.parametrize(
    "url",
    [
        "/staff/locations/new/",
        "/staff/accounts/new/",
        "/staff/accounts/me/password/",
        "/staff/login/",
    ],
)
def test_forms_answer_nonsense_posts_with_the_form_again(client, alice, url):
    if url != "/staff/login/":
        client.force_login(alice)

    response = client.post(url, {"name": "\u202e", "email": "@@", "roles": ["astronaut"], "x": "y"})

    assert response.status_code == 200
    assert b"is-invalid" in response.content or b"alert" in response.content


def test_unknown_ids_in_urls_are_not_found(client, alice):
    client.force_login(alice)

    assert client.get("/staff/locations/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client.get("/staff/locations/12/").status_code == 404
    assert client.get("/staff/accounts/00000000-0000-0000-0000-000000000000/").status_code == 404
