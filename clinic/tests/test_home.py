import pytest

from tests.second_factor import enter_code


@pytest.mark.django_db
def test_public_home_is_served(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Ketamine infusion therapy" in response.content


def test_staff_home_requires_login(client, db):
    response = client.get("/staff/")
    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/")


def test_it_signs_in_with_email_and_password(client, nina):
    response = client.post(
        "/staff/login/",
        {"username": "NINA@clinic.test", "password": "correct horse battery staple"},
    )
    assert response.status_code == 302
    enter_code(client, nina)
    assert client.get("/staff/").status_code == 200


def test_every_page_names_the_clinic_from_settings(client, db, settings):
    settings.CLINIC_NAME = "Lakeside Ketamine Clinic"

    for url in ["/", "/staff/login/"]:
        response = client.get(url)
        assert b"Lakeside Ketamine Clinic" in response.content, url
        assert b"testserver" not in response.content, url
