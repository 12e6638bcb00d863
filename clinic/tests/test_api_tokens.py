"""Personal API tokens: hashed at rest, shown once, expiring, several per person, revocable
by their owner and by a clinic admin, and acting with the owner's roles of the moment."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from clinic import accounts
from clinic.api_tokens import api_token_create, api_token_digest, api_token_revoke
from clinic.audit import Action
from clinic.models import ApiToken, AuditEvent
from clinic.roles import Role
from tests.api_tokens import api_key_for

# session and user, the tokens, the signed-in sessions
MY_ACCOUNT_QUERIES = 4


def api_get(client, url: str, key: str):
    return client.get(url, HTTP_AUTHORIZATION=f"Token {key}")


def token_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type="clinic.apitoken").order_by("id"))


# --- The service --------------------------------------------------------------------------


def test_it_stores_only_a_digest_of_the_secret(settings, nina):
    settings.API_TOKEN_DAYS = 30
    token, secret = api_token_create(user=nina, name=" EHR sync ")

    token.refresh_from_db()
    assert token.name == "EHR sync"
    assert secret.startswith("cs_") and len(secret) > 40
    assert token.digest == api_token_digest(secret)
    assert secret not in str(vars(token))
    assert token.prefix == secret[:7]
    assert timedelta(days=30) - (token.expires_at - token.created_at) < timedelta(seconds=1)
    [event] = token_events()
    assert (event.actor, event.action, event.object_id) == (
        nina,
        Action.CREATE,
        str(nina.public_id),
    )
    assert event.summary.startswith('created API token "EHR sync", expiring ')
    assert token.prefix not in str(vars(event))


def test_it_needs_a_name(nina):
    with pytest.raises(ValidationError, match="Name the token"):
        api_token_create(user=nina, name="   ")
    assert not ApiToken.objects.exists()


def test_it_caps_the_number_of_tokens_a_person_holds(nina, monkeypatch):
    monkeypatch.setattr("clinic.api_tokens.MAX_TOKENS_PER_USER", 2)
    api_key_for(nina, "one")
    api_key_for(nina, "two")
    with pytest.raises(ValidationError, match="Revoke one you no longer use"):
        api_token_create(user=nina, name="three")


def test_only_the_owner_or_a_clinic_admin_can_revoke_a_token(alice, fran, nina):
    api_key_for(nina)
    token = ApiToken.objects.get(user=nina)
    with pytest.raises(PermissionDenied):
        api_token_revoke(actor=fran, token=token)
    api_token_revoke(actor=alice, token=token)
    assert not ApiToken.objects.exists()
    assert token_events()[-1].summary == 'revoked Nina Nurse\'s API token "tests"'


# --- Using a token ------------------------------------------------------------------------


def test_a_token_authenticates_the_api_until_revoked(client, nina):
    key = api_key_for(nina)
    me = api_get(client, "/api/v1/me/", key)
    assert me.status_code == 200
    assert me.json()["email"] == "nina@clinic.test"

    api_token_revoke(actor=nina, token=ApiToken.objects.get(user=nina))
    refused = api_get(client, "/api/v1/me/", key)
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == "Token"
    # The secret is never in the log.
    assert all(key not in str(vars(event)) for event in AuditEvent.objects.all())


def test_a_person_may_hold_several_tokens_and_revoke_one(client, nina):
    first, second = api_key_for(nina, "first"), api_key_for(nina, "second")
    api_token_revoke(actor=nina, token=ApiToken.objects.get(user=nina, name="first"))

    assert api_get(client, "/api/v1/me/", first).status_code == 401
    assert api_get(client, "/api/v1/me/", second).status_code == 200


def test_an_expired_token_gets_401(client, nina):
    key = api_key_for(nina)
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))

    response = api_get(client, "/api/v1/me/", key)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "expired" in response.json()["detail"]


@pytest.mark.parametrize("key", ["cs_not-a-token", "not-even-ours", "cs_" + "x" * 500])
def test_an_unknown_token_gets_401(client, db, key):
    assert api_get(client, "/api/v1/me/", key).status_code == 401


def test_it_records_when_a_token_was_last_used(client, nina):
    key = api_key_for(nina)
    assert ApiToken.objects.get().last_used_at is None

    api_get(client, "/api/v1/me/", key)

    assert timezone.now() - ApiToken.objects.get().last_used_at < timedelta(seconds=5)


def test_a_deactivated_accounts_token_is_refused(client, nina):
    key = api_key_for(nina)
    nina.is_active = False
    nina.save(update_fields=["is_active"])

    assert api_get(client, "/api/v1/me/", key).status_code == 401


def test_a_role_taken_away_after_the_token_was_made_takes_effect_at_once(client, alice, fran):
    key = api_key_for(fran)
    assert api_get(client, "/api/v1/locations/", key).status_code == 200

    accounts.staff_update(
        actor=alice, member=fran, full_name=fran.full_name, roles=[Role.CONTENT_EDITOR]
    )

    assert api_get(client, "/api/v1/locations/", key).status_code == 403
    assert api_get(client, "/api/v1/me/", key).json()["roles"] == ["content_editor"]


def test_the_schema_describes_the_token_scheme(client, db):
    schema = client.get("/api/schema/", {"format": "json"}).json()

    scheme = schema["components"]["securitySchemes"]["tokenAuth"]
    assert scheme["type"] == "apiKey"
    assert scheme["in"] == "header"
    assert scheme["name"] == "Authorization"
    assert "expires" in scheme["description"]
    assert {"tokenAuth": []} in schema["paths"]["/api/v1/me/"]["get"]["security"]


# --- The pages ----------------------------------------------------------------------------


def test_you_can_make_see_once_and_revoke_a_named_token(client, edie):
    client.force_login(edie)
    assert b"No API tokens" in client.get("/staff/accounts/me/").content
    assert b"Name" in client.get("/staff/accounts/me/tokens/new/").content

    response = client.post("/staff/accounts/me/tokens/new/", {"name": "Website CMS"})
    assert response["Location"] == "/staff/accounts/me/"
    token = ApiToken.objects.get(user=edie)
    shown = client.get("/staff/accounts/me/").content.decode()
    [secret] = [word for word in shown.split('"') if word.startswith("cs_") and len(word) > 40]
    assert token.digest == api_token_digest(secret)
    assert "Authorization: Token" in shown
    again = client.get("/staff/accounts/me/").content.decode()
    assert secret not in again
    assert "Website CMS" in again
    assert f"{token.prefix}…" in again

    confirm = client.get(f"/staff/accounts/me/tokens/{token.public_id}/revoke/")
    assert 'Revoke the API token "Website CMS"?' in confirm.content.decode()
    assert ApiToken.objects.filter(user=edie).exists()
    client.post(f"/staff/accounts/me/tokens/{token.public_id}/revoke/")
    assert not ApiToken.objects.filter(user=edie).exists()
    assert api_get(client, "/api/v1/me/", secret).status_code == 401


def test_making_a_token_without_a_name_says_what_to_do(client, nina):
    client.force_login(nina)

    response = client.post("/staff/accounts/me/tokens/new/", {"name": ""})

    assert response.status_code == 200
    assert "Name the token after what will use it" in response.content.decode()
    assert not ApiToken.objects.exists()


def test_you_cannot_revoke_someone_elses_token_from_your_page(client, fran, nina):
    api_key_for(nina)
    token = ApiToken.objects.get(user=nina)
    client.force_login(fran)

    assert client.post(f"/staff/accounts/me/tokens/{token.public_id}/revoke/").status_code == 404
    assert ApiToken.objects.filter(pk=token.pk).exists()


def test_a_clinic_admin_sees_and_revokes_a_members_tokens(client, alice, nina):
    key = api_key_for(nina, "Lab interface")
    token = ApiToken.objects.get(user=nina)
    client.force_login(alice)

    page = client.get(f"/staff/accounts/{nina.public_id}/").content.decode()
    assert "Lab interface" in page
    assert key not in page
    response = client.post(f"/staff/accounts/{nina.public_id}/tokens/{token.public_id}/revoke/")

    assert response["Location"] == f"/staff/accounts/{nina.public_id}/"
    assert not ApiToken.objects.exists()
    event = token_events()[-1]
    assert (event.actor, event.action, event.object_id) == (
        alice,
        Action.DELETE,
        str(nina.public_id),
    )


def test_only_a_clinic_admin_may_revoke_a_members_token_by_the_admin_page(client, fran, nina):
    api_key_for(nina)
    token = ApiToken.objects.get(user=nina)
    client.force_login(fran)

    response = client.post(f"/staff/accounts/{nina.public_id}/tokens/{token.public_id}/revoke/")

    assert response.status_code == 403
    assert ApiToken.objects.exists()


def test_your_account_page_costs_the_same_queries_with_many_tokens(
    client, nina, django_assert_num_queries
):
    client.force_login(nina)
    client.get("/staff/accounts/me/")
    api_key_for(nina, "one")
    with django_assert_num_queries(MY_ACCOUNT_QUERIES):
        client.get("/staff/accounts/me/")
    for name in ["two", "three", "four"]:
        api_key_for(nina, name)
    with django_assert_num_queries(MY_ACCOUNT_QUERIES):
        client.get("/staff/accounts/me/")
