"""Least privilege for roles: only a physician-admin grants the physician and nurse roles,
never to themselves; any clinic admin removes roles; every change is audited before/after.

mara (conftest in this folder) is the medical director: physician and clinic admin.
"""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from clinic import accounts
from clinic.audit import Action
from clinic.models import AuditEvent, User
from clinic.roles import Role
from conftest import make_staff


def role_changes() -> list[str]:
    return list(
        AuditEvent.objects.filter(action=Action.UPDATE, summary__contains="roles:")
        .order_by("id")
        .values_list("summary", flat=True)
    )


def update_roles(actor: User, member: User, *roles: Role) -> User:
    return accounts.staff_update(
        actor=actor, member=member, full_name=member.full_name, roles=list(roles)
    )


# --- Granting --------------------------------------------------------------------------------


def test_a_physician_admin_grants_a_clinical_role_and_it_is_audited_before_and_after(mara, fran):
    update_roles(mara, fran, Role.FRONT_DESK, Role.NURSE)

    fran.refresh_from_db()
    assert fran.roles == [Role.FRONT_DESK, Role.NURSE]
    [event] = AuditEvent.objects.filter(action=Action.UPDATE, object_id=str(fran.public_id))
    assert event.actor == mara
    assert event.summary == "roles: Front desk → Front desk, Nurse"


def test_a_clinic_admin_cannot_grant_themselves_a_clinical_role(alice):
    with pytest.raises(ValidationError) as caught:
        update_roles(alice, alice, Role.CLINIC_ADMIN, Role.PHYSICIAN)

    assert "You cannot give yourself the physician role" in caught.value.message_dict["roles"][0]
    alice.refresh_from_db()
    assert alice.roles == [Role.CLINIC_ADMIN]
    assert role_changes() == []


def test_even_a_physician_admin_cannot_grant_themselves_a_clinical_role(mara):
    with pytest.raises(ValidationError, match="You cannot give yourself the nurse role"):
        update_roles(mara, mara, Role.NURSE, Role.PHYSICIAN, Role.CLINIC_ADMIN)
    mara.refresh_from_db()
    assert mara.roles == [Role.PHYSICIAN, Role.CLINIC_ADMIN]


def test_a_clinic_admin_who_is_not_a_physician_cannot_grant_a_clinical_role(alice, mara, fran):
    with pytest.raises(ValidationError) as caught:
        update_roles(alice, fran, Role.FRONT_DESK, Role.NURSE, Role.PHYSICIAN)

    message = caught.value.message_dict["roles"][0]
    assert message.startswith(
        "Only a clinic admin who is also a physician (such as the medical director) can grant "
        "the nurse and physician roles."
    )
    assert "Ask Mara Director to grant it" in message
    fran.refresh_from_db()
    assert fran.roles == [Role.FRONT_DESK]


def test_without_a_physician_admin_the_refusal_says_how_to_make_one(alice, fran):
    with pytest.raises(ValidationError, match=r"manage\.py create_staff"):
        update_roles(alice, fran, Role.NURSE)


def test_a_nurse_who_is_a_clinic_admin_cannot_grant_a_clinical_role(fran):
    head_nurse = make_staff("hana@clinic.test", "Hana Head", Role.NURSE, Role.CLINIC_ADMIN)
    with pytest.raises(ValidationError, match="Only a clinic admin who is also a physician"):
        update_roles(head_nurse, fran, Role.NURSE)


def test_a_clinic_admin_cannot_create_an_account_with_a_clinical_role(alice):
    with pytest.raises(ValidationError) as caught:
        accounts.staff_create(
            actor=alice, email="dana@clinic.test", full_name="Dana Doctor", roles=[Role.PHYSICIAN]
        )
    assert "Only a clinic admin who is also a physician" in caught.value.message_dict["roles"][0]
    assert not User.objects.filter(email="dana@clinic.test").exists()


def test_a_clinic_admin_may_still_grant_the_other_roles(alice, fran):
    update_roles(alice, fran, Role.FRONT_DESK, Role.CONTENT_EDITOR)

    assert role_changes() == ["roles: Front desk → Front desk, Content editor"]


def test_keeping_a_clinical_role_someone_already_has_is_not_a_grant(alice, nina):
    accounts.staff_update(actor=alice, member=nina, full_name="Nina N.", roles=[Role.NURSE])

    nina.refresh_from_db()
    assert nina.full_name == "Nina N."


# --- Removing --------------------------------------------------------------------------------


def test_any_clinic_admin_may_remove_a_clinical_role(alice, nina):
    update_roles(alice, nina, Role.FRONT_DESK)

    nina.refresh_from_db()
    assert nina.roles == [Role.FRONT_DESK]
    assert role_changes() == ["roles: Nurse → Front desk"]


# --- The page --------------------------------------------------------------------------------


def test_the_edit_page_says_who_can_grant_a_clinical_role(client, alice, mara, fran):
    client.force_login(alice)

    response = client.post(
        f"/staff/accounts/{fran.public_id}/", {"full_name": fran.full_name, "roles": ["nurse"]}
    )

    assert response.status_code == 200
    assert response.context["form"].errors["roles"]
    assert "Ask Mara Director to grant it" in response.content.decode()
    assert "Only a clinic admin who is also a physician can grant" in response.content.decode()


def test_a_physician_admin_grants_a_clinical_role_on_the_edit_page(client, mara, fran):
    client.force_login(mara)

    response = client.post(
        f"/staff/accounts/{fran.public_id}/", {"full_name": fran.full_name, "roles": ["nurse"]}
    )

    assert response.status_code == 302
    fran.refresh_from_db()
    assert fran.roles == [Role.NURSE]
    assert role_changes() == ["roles: Front desk → Nurse"]


# --- The first account: manage.py create_staff ------------------------------------------------


def create_staff(*args: str) -> str:
    out = StringIO()
    call_command("create_staff", *args, stdout=out)
    return out.getvalue()


def test_create_staff_makes_a_fresh_clinics_physician_admin(client, db, settings):
    settings.SITE_URL = "https://clinic.example"

    out = create_staff(
        "--email",
        "MD@Clinic.test",
        "--full-name",
        "Ada Rivera",
        "--roles",
        "physician,clinic_admin",
    )

    ada = User.objects.get(email="md@clinic.test")
    assert ada.roles == [Role.PHYSICIAN, Role.CLINIC_ADMIN]
    assert not ada.has_usable_password()
    assert accounts.is_physician_admin(ada)
    [event] = AuditEvent.objects.filter(action=Action.CREATE)
    assert event.actor is None
    assert event.summary.endswith("roles: none → Physician, Clinic admin")
    link = re.search(r"https://clinic\.example(/staff/accounts/set-password/\S+)", out)
    assert link is not None
    assert client.get(link.group(1)).context["link_ok"]


def test_create_staff_grants_no_clinical_role_once_a_physician_admin_exists(mara, settings):
    settings.SITE_URL = "https://clinic.example"
    with pytest.raises(CommandError, match="--roles: A clinic admin who is also a physician"):
        create_staff("--email", "x@clinic.test", "--full-name", "X", "--roles", "nurse")
    assert not User.objects.filter(email="x@clinic.test").exists()


def test_create_staff_still_makes_non_clinical_accounts(mara, settings):
    out = create_staff(
        "--email",
        "ops@clinic.test",
        "--full-name",
        "Ops",
        "--roles",
        "clinic_admin",
        "--site-url",
        "https://clinic.example/",
    )
    assert "https://clinic.example/staff/accounts/set-password/" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--roles", "astronaut"], "--roles: Choose roles from the list shown."),
        (["--roles", "nurse", "--email", "nope"], "--email: Enter a valid email address"),
    ],
)
def test_create_staff_says_what_to_fix(db, settings, args, message):
    settings.SITE_URL = "https://clinic.example"
    base = {"--email": "x@clinic.test", "--full-name": "X", "--roles": "nurse"}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    with pytest.raises(CommandError, match=re.escape(message)):
        create_staff(*[part for pair in base.items() for part in pair])


def test_create_staff_needs_an_address_for_the_link(db, settings):
    settings.SITE_URL = ""
    with pytest.raises(CommandError, match="SITE_URL"):
        create_staff("--email", "x@clinic.test", "--full-name", "X", "--roles", "nurse")
    assert not User.objects.exists()
