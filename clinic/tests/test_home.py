import pytest


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
    assert client.get("/staff/").status_code == 200
