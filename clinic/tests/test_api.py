import re

import pytest


def test_the_schema_is_openapi_3_and_lists_the_v1_endpoints(client, db):
    response = client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "/api/v1/me/" in schema["paths"]


def test_the_docs_page_loads_its_assets_from_this_server(client, db):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    sources = re.findall(r'(?:src|href)="([^"]+)"', response.content.decode())
    assert any("swagger-ui" in source for source in sources)
    assert all(source.startswith("/") for source in sources), sources


def test_me_describes_the_signed_in_staff_member(client, phil):
    client.force_login(phil)

    response = client.get("/api/v1/me/")

    assert response.status_code == 200
    body = response.json()
    assert body["email"] == "phil@clinic.test"
    assert body["roles"] == ["physician"]
    assert "view_locations" in body["capabilities"]
    assert "manage_locations" not in body["capabilities"]
    assert body["id"] == str(phil.public_id)


@pytest.mark.parametrize("header", ["", "Token not-a-real-token"])
def test_me_refuses_a_caller_without_valid_credentials(client, db, header):
    response = client.get("/api/v1/me/", HTTP_AUTHORIZATION=header)

    assert response.status_code == 401
    assert "detail" in response.json()
