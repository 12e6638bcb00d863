"""Staff accounts: clinic admins manage them; everyone manages their own password and token."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from clinic import accounts
from clinic.audit import Action
from clinic.models import ApiToken, AuditEvent, User
from clinic.roles import Role
from conftest import PASSWORD, make_staff
from tests.api_tokens import api_key_for

NEW_PASSWORD = "plum orchard lantern 42"
# session and user, count, one page of accounts (lockouts in the same query), and the
# session's last-activity update (savepoint, update, release).
ACCOUNT_LIST_QUERIES = 7


def audit_events(action: Action | None = None) -> list[AuditEvent]:
    # force_login records sign-ins; leave them out of what the tests look at.
    events = AuditEvent.objects.exclude(action=Action.LOGIN)
    return list(events.filter(action=action) if action else events)


def sign_in_fails_until_locked_out(client, email: str, settings) -> None:
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/staff/login/", {"username": email, "password": "wrong password"})


def signs_in(client, email: str, password: str = PASSWORD) -> bool:
    client.logout()
    client.post("/staff/login/", {"username": email, "password": password})
    return "_auth_user_id" in client.session


# --- staff_create -------------------------------------------------------------------------


def test_it_creates_an_account_without_a_usable_password(mara):
    member = accounts.staff_create(
        actor=mara,
        email=" Dana.Doctor@Clinic.test ",
        full_name=" Dana Doctor ",
        roles=[Role.NURSE, Role.FRONT_DESK],
    )
    member.refresh_from_db()
    assert member.email == "dana.doctor@clinic.test"
    assert member.full_name == "Dana Doctor"
    assert member.roles == [Role.FRONT_DESK, Role.NURSE]
    assert member.is_active
    assert not member.has_usable_password()
    [event] = audit_events()
    assert (event.actor, event.action, event.object_id) == (
        mara,
        Action.CREATE,
        str(member.public_id),
    )
    assert event.summary.endswith("; roles: none → Front desk, Nurse")


def test_it_refuses_an_email_that_already_has_an_account_whatever_the_case(alice, olga):
    with pytest.raises(ValidationError) as caught:
        accounts.staff_create(
            actor=alice, email="OLGA@clinic.TEST", full_name="Olga Again", roles=[Role.NURSE]
        )
    assert "already an account" in caught.value.message_dict["email"][0]
    assert User.objects.filter(email__iexact="olga@clinic.test").count() == 1
    assert audit_events() == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"roles": []}, "roles"),
        ({"roles": ["surgeon"]}, "roles"),
        ({"full_name": "  "}, "full_name"),
        ({"email": "not an address"}, "email"),
    ],
)
def test_it_refuses_an_account_with_bad_details(mara, changes, field):
    details = {"email": "dana@clinic.test", "full_name": "Dana Doctor", "roles": [Role.NURSE]}
    with pytest.raises(ValidationError) as caught:
        accounts.staff_create(actor=mara, **{**details, **changes})
    assert list(caught.value.message_dict) == [field]
    assert not User.objects.filter(full_name="Dana Doctor").exists()
    assert audit_events() == []


def test_only_a_clinic_admin_can_create_accounts(fran):
    with pytest.raises(PermissionDenied):
        accounts.staff_create(
            actor=fran, email="dana@clinic.test", full_name="Dana", roles=[Role.CLINIC_ADMIN]
        )
    assert not User.objects.filter(email="dana@clinic.test").exists()


# --- staff_update -------------------------------------------------------------------------


def test_it_changes_name_and_roles(mara, nina):
    accounts.staff_update(
        actor=mara, member=nina, full_name="Nina Nurse-Practitioner", roles=[Role.PHYSICIAN]
    )
    nina.refresh_from_db()
    assert (nina.full_name, nina.roles) == ("Nina Nurse-Practitioner", [Role.PHYSICIAN])
    [event] = audit_events()
    assert event.summary == "changed full name; roles: Nurse → Physician"
    assert "Practitioner" not in event.summary


def test_it_records_nothing_when_nothing_changed(alice, nina):
    accounts.staff_update(actor=alice, member=nina, full_name="Nina Nurse", roles=[Role.NURSE])
    assert audit_events() == []


def test_an_admin_cannot_remove_their_own_admin_role(alice):
    with pytest.raises(ValidationError) as caught:
        accounts.staff_update(
            actor=alice, member=alice, full_name="Alice Renamed", roles=[Role.NURSE]
        )
    assert "your own clinic admin role" in caught.value.message_dict["roles"][0]
    alice.refresh_from_db()
    assert (alice.full_name, alice.roles) == ("Alice Admin", [Role.CLINIC_ADMIN])
    assert audit_events() == []


def test_an_admin_may_remove_another_admins_role(alice):
    bert = make_staff("bert@clinic.test", "Bert Admin", Role.CLINIC_ADMIN, Role.NURSE)
    accounts.staff_update(actor=alice, member=bert, full_name="Bert Admin", roles=[Role.NURSE])
    bert.refresh_from_db()
    assert bert.roles == [Role.NURSE]


def test_only_a_clinic_admin_can_change_accounts(nina):
    with pytest.raises(PermissionDenied):
        accounts.staff_update(actor=nina, member=nina, full_name="Nina", roles=[Role.CLINIC_ADMIN])
    nina.refresh_from_db()
    assert nina.roles == [Role.NURSE]


# --- staff_set_active ---------------------------------------------------------------------


def test_deactivating_an_account_also_revokes_its_tokens(alice, nina):
    api_key_for(nina, "one")
    api_key_for(nina, "two")
    accounts.staff_set_active(actor=alice, member=nina, is_active=False)
    nina.refresh_from_db()
    assert not nina.is_active
    assert not ApiToken.objects.filter(user=nina).exists()
    [event] = audit_events(Action.UPDATE)
    assert event.summary == "deactivated the account and revoked its 2 API tokens"


def test_a_deactivated_person_is_signed_out_at_once(client, alice, nina):
    client.force_login(nina)
    accounts.staff_set_active(actor=alice, member=nina, is_active=False)
    response = client.get("/staff/accounts/me/")
    assert response["Location"] == "/staff/login/?next=/staff/accounts/me/"
    assert not signs_in(client, "nina@clinic.test")


def test_it_reactivates_an_account(alice, olga):
    accounts.staff_set_active(actor=alice, member=olga, is_active=True)
    olga.refresh_from_db()
    assert olga.is_active
    assert audit_events()[0].summary == "reactivated the account"


def test_an_admin_cannot_deactivate_themself(alice):
    with pytest.raises(ValidationError, match="your own account"):
        accounts.staff_set_active(actor=alice, member=alice, is_active=False)
    alice.refresh_from_db()
    assert alice.is_active
    assert audit_events() == []


def test_it_refuses_to_deactivate_an_account_twice(alice, olga):
    with pytest.raises(ValidationError, match="already deactivated"):
        accounts.staff_set_active(actor=alice, member=olga, is_active=False)
    assert audit_events() == []


def test_only_a_clinic_admin_can_deactivate(phil, nina):
    with pytest.raises(PermissionDenied):
        accounts.staff_set_active(actor=phil, member=nina, is_active=False)
    nina.refresh_from_db()
    assert nina.is_active


# --- staff_unlock ---------------------------------------------------------------------------


def test_unlocking_lets_a_locked_out_person_sign_in_again(client, alice, nina, settings):
    sign_in_fails_until_locked_out(client, "NINA@clinic.test", settings)
    assert not signs_in(client, "NINA@clinic.test")
    assert accounts.staff_unlock(actor=alice, member=nina) > 0
    assert signs_in(client, "NINA@clinic.test")
    assert audit_events(Action.UPDATE)[0].summary == "cleared failed sign-in attempts (unlocked)"


def test_unlocking_an_account_that_is_not_locked_changes_nothing(alice, nina):
    assert accounts.staff_unlock(actor=alice, member=nina) == 0
    assert audit_events() == []


def test_only_a_clinic_admin_can_unlock(client, fran, nina, settings):
    sign_in_fails_until_locked_out(client, "nina@clinic.test", settings)
    with pytest.raises(PermissionDenied):
        accounts.staff_unlock(actor=fran, member=nina)
    assert not signs_in(client, "nina@clinic.test")


# --- Set-password links -------------------------------------------------------------------------


def test_a_set_password_link_works_once(client, alice, nina):
    token = accounts.staff_password_link_token(actor=alice, member=nina)
    url = f"/staff/accounts/set-password/{nina.public_id}/{token}/"
    assert client.get(url).status_code == 200

    weak = client.post(url, {"new_password1": "short", "new_password2": "short"})
    assert weak.status_code == 200
    assert weak.context["form"].errors["new_password2"]
    nina.refresh_from_db()
    assert nina.check_password(PASSWORD)

    done = client.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == "/staff/login/"
    assert signs_in(client, "nina@clinic.test", NEW_PASSWORD)
    client.logout()  # (signed in, nina would be taken to her second factor first)
    assert b"This link no longer works" in client.get(url).content
    summaries = [event.summary for event in audit_events(Action.UPDATE)]
    assert summaries == [
        "set their password with a set-password link",
        "made a set-password link and emailed it",
    ]


def test_a_tampered_or_foreign_link_does_not_work(client, alice, nina, phil):
    token = accounts.staff_password_link_token(actor=alice, member=nina)
    for url in [
        f"/staff/accounts/set-password/{nina.public_id}/{token}x/",
        f"/staff/accounts/set-password/{phil.public_id}/{token}/",
    ]:
        response = client.post(url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
        assert response.status_code == 200
        assert b"This link no longer works" in response.content
    nina.refresh_from_db()
    phil.refresh_from_db()
    assert nina.check_password(PASSWORD)
    assert phil.check_password(PASSWORD)


def test_no_set_password_link_for_a_deactivated_account(alice, olga):
    with pytest.raises(ValidationError, match="deactivated"):
        accounts.staff_password_link_token(actor=alice, member=olga)
    assert audit_events() == []


def test_only_a_clinic_admin_can_make_set_password_links(fran, nina):
    with pytest.raises(PermissionDenied):
        accounts.staff_password_link_token(actor=fran, member=nina)


# --- The staff account pages, by role -----------------------------------------------------------


def test_a_clinic_admin_sees_the_staff_list(client, alice, nina, olga):
    client.force_login(alice)
    response = client.get("/staff/accounts/")
    assert response.status_code == 200
    page = response.content.decode()
    for shown in ["Alice Admin", "Nina Nurse", "olga@clinic.test", "Deactivated"]:
        assert shown in page


@pytest.mark.parametrize("persona", ["fran", "nina", "phil", "edie"])
@pytest.mark.parametrize(
    "url",
    [
        "/staff/accounts/",
        "/staff/accounts/new/",
        "/staff/accounts/{alice}/",
        "/staff/accounts/{alice}/deactivate/",
    ],
)
def test_other_roles_cannot_manage_accounts(client, alice, persona, url, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(url.format(alice=alice.public_id)).status_code == 403


def test_managing_accounts_needs_signing_in(client, alice):
    response = client.get("/staff/accounts/")
    assert response.status_code == 302
    assert response["Location"] == "/staff/login/?next=/staff/accounts/"


@pytest.mark.parametrize("people", [1, 5])
def test_the_list_uses_the_same_number_of_queries_however_many_people(
    client, alice, people, django_assert_num_queries
):
    for n in range(people - 1):
        make_staff(f"person{n}@clinic.test", f"Person {n}", Role.NURSE)
    client.force_login(alice)
    with django_assert_num_queries(ACCOUNT_LIST_QUERIES):
        response = client.get("/staff/accounts/")
    assert len(response.context["page"].object_list) == people


def test_the_list_searches_and_filters(client, alice, nina, phil, olga):
    client.force_login(alice)

    def names(query: str) -> list[str]:
        response = client.get(f"/staff/accounts/?{query}")
        assert response.status_code == 200
        return [member.full_name for member in response.context["page"].object_list]

    assert names("q=NURSE") == ["Nina Nurse"]
    assert names("q=phil%40clinic") == ["Phil Physician"]
    assert names("role=nurse") == ["Nina Nurse", "Olga Former"]
    assert names("role=nurse&status=active") == ["Nina Nurse"]
    assert names("status=inactive") == ["Olga Former"]
    assert names("role=surgeon") == ["Alice Admin", "Nina Nurse", "Olga Former", "Phil Physician"]
    assert b"No accounts match" in client.get("/staff/accounts/?q=nobody").content


def test_the_list_pages_by_twenty_five(client, alice):
    for n in range(25):
        make_staff(f"person{n:02}@clinic.test", f"Person {n:02}", Role.NURSE)
    client.force_login(alice)
    first = client.get("/staff/accounts/")
    assert len(first.context["page"].object_list) == 25
    second = client.get("/staff/accounts/?page=2")
    assert [member.full_name for member in second.context["page"].object_list] == ["Person 24"]


def test_the_list_shows_who_is_locked_out(client, alice, nina, settings):
    sign_in_fails_until_locked_out(client, "Nina@Clinic.test", settings)
    client.force_login(alice)
    response = client.get("/staff/accounts/")
    flags = {member.full_name: member.is_locked_out for member in response.context["page"]}
    assert flags == {"Alice Admin": False, "Nina Nurse": True}
    assert b"Locked out" in response.content


def test_creating_an_account_shows_a_set_password_link_once(client, mara):
    client.force_login(mara)
    response = client.post(
        "/staff/accounts/new/",
        {"email": "dana@clinic.test", "full_name": "Dana Doctor", "roles": ["physician"]},
    )
    dana = User.objects.get(email="dana@clinic.test")
    assert response["Location"] == f"/staff/accounts/{dana.public_id}/"
    page = client.get(response["Location"]).content.decode()
    link = re.search(r'value="(http://testserver/staff/accounts/set-password/[^"]+)"', page)
    assert link is not None
    assert b"set-password/" not in client.get(response["Location"]).content

    client.logout()
    path = link.group(1).removeprefix("http://testserver")
    client.post(path, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert signs_in(client, "dana@clinic.test", NEW_PASSWORD)


def test_the_create_form_explains_bad_input(client, alice, fran):
    client.force_login(alice)
    no_role = client.post(
        "/staff/accounts/new/", {"email": "dana@clinic.test", "full_name": "Dana Doctor"}
    )
    assert no_role.status_code == 200
    assert "Choose at least one role" in no_role.content.decode()
    taken = client.post(
        "/staff/accounts/new/",
        {"email": "FRAN@clinic.test", "full_name": "Fran Two", "roles": ["nurse"]},
    )
    assert taken.status_code == 200
    assert "There is already an account for fran@clinic.test" in taken.content.decode()
    assert taken.context["form"].errors["email"]
    assert not User.objects.filter(full_name__in=["Dana Doctor", "Fran Two"]).exists()


def test_the_edit_form_saves_name_and_roles(client, alice, nina):
    client.force_login(alice)
    url = f"/staff/accounts/{nina.public_id}/"
    assert client.get(url).status_code == 200
    response = client.post(url, {"full_name": "Nina N.", "roles": ["nurse", "front_desk"]})
    assert response.status_code == 302
    nina.refresh_from_db()
    assert (nina.full_name, nina.roles) == ("Nina N.", [Role.FRONT_DESK, Role.NURSE])


def test_the_edit_form_explains_why_an_admin_keeps_their_role(client, alice):
    client.force_login(alice)
    response = client.post(
        f"/staff/accounts/{alice.public_id}/", {"full_name": "Alice", "roles": ["nurse"]}
    )
    assert response.status_code == 200
    assert "cannot remove your own clinic admin role" in response.content.decode()
    assert response.context["form"].errors["roles"]
    alice.refresh_from_db()
    assert alice.roles == [Role.CLINIC_ADMIN]


def test_an_unknown_account_is_not_found(client, alice):
    client.force_login(alice)
    assert client.get("/staff/accounts/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert client.get("/staff/accounts/12345/").status_code == 404


def test_deactivating_asks_for_confirmation_first(client, alice, nina):
    client.force_login(alice)
    url = f"/staff/accounts/{nina.public_id}/deactivate/"
    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "Deactivate Nina Nurse's account?" in confirm.content.decode()
    nina.refresh_from_db()
    assert nina.is_active

    assert client.post(url).status_code == 302
    nina.refresh_from_db()
    assert not nina.is_active


def test_reactivating_asks_for_confirmation_first(client, alice, olga):
    client.force_login(alice)
    url = f"/staff/accounts/{olga.public_id}/reactivate/"
    assert b"Reactivate Olga Former" in client.get(url).content
    client.post(url)
    olga.refresh_from_db()
    assert olga.is_active


def test_an_admin_is_told_they_cannot_deactivate_themself(client, alice):
    client.force_login(alice)
    url = f"/staff/accounts/{alice.public_id}/deactivate/"
    assert b"You cannot deactivate it" in client.get(url).content
    response = client.post(url, follow=True)
    assert "You cannot deactivate your own account" in response.content.decode()
    alice.refresh_from_db()
    assert alice.is_active


def test_the_unlock_button_unlocks(client, alice, nina, settings):
    sign_in_fails_until_locked_out(client, "nina@clinic.test", settings)
    client.force_login(alice)
    url = f"/staff/accounts/{nina.public_id}/unlock/"
    assert client.get(url).status_code == 405
    response = client.post(url, follow=True)
    assert "Unlocked" in response.content.decode()
    client.logout()
    assert signs_in(client, "nina@clinic.test")


def test_an_admin_can_make_a_new_set_password_link(client, alice, nina):
    client.force_login(alice)
    response = client.post(f"/staff/accounts/{nina.public_id}/password-link/", follow=True)
    assert b'data-testid="password-link"' in response.content


# --- Your own account -----------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["alice", "fran", "nina", "phil", "edie"])
def test_everyone_sees_their_own_account(client, persona, request):
    person = request.getfixturevalue(persona)
    client.force_login(person)
    response = client.get("/staff/accounts/me/")
    assert response.status_code == 200
    page = response.content.decode()
    assert person.email in page
    assert ", ".join(person.role_labels) in page


def test_your_own_account_needs_signing_in(client, db):
    response = client.get("/staff/accounts/me/")
    assert response["Location"] == "/staff/login/?next=/staff/accounts/me/"


def test_changing_your_password_keeps_you_signed_in(client, fran):
    client.force_login(fran)
    response = client.post(
        "/staff/accounts/me/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response["Location"] == "/staff/accounts/me/"
    assert client.get("/staff/accounts/me/").status_code == 200
    fran.refresh_from_db()
    assert fran.check_password(NEW_PASSWORD)
    assert audit_events()[0].summary == "changed their password"


@pytest.mark.parametrize(
    ("old", "new1", "new2", "field"),
    [
        ("wrong", NEW_PASSWORD, NEW_PASSWORD, "old_password"),
        (PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!", "new_password2"),
        (PASSWORD, "12345678901234", "12345678901234", "new_password2"),
    ],
)
def test_a_bad_password_change_is_explained_and_changes_nothing(
    client, fran, old, new1, new2, field
):
    client.force_login(fran)
    response = client.post(
        "/staff/accounts/me/password/",
        {"old_password": old, "new_password1": new1, "new_password2": new2},
    )
    assert response.status_code == 200
    assert response.context["form"].errors[field]
    fran.refresh_from_db()
    assert fran.check_password(PASSWORD)
