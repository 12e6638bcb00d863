"""The security baseline: session lifetimes, login lockout, CSRF, demo accounts, deploy checks."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client

from clinic.middleware import LAST_ACTIVITY_KEY, SIGNED_IN_AT_KEY
from clinic.roles import Role
from conftest import PASSWORD, make_staff
from patients.tests.factories import PatientFactory
from tests.api_tokens import api_key_for
from tests.second_factor import enter_code

BASE_DIR = Path(__file__).resolve().parent.parent
MINUTE = 60


def sign_in(client: Client, user) -> None:
    response = client.post("/staff/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302, "the persona could not sign in"
    enter_code(client, user)
    assert client.get("/staff/").status_code == 200  # starts the session's clocks


def turn_back_clock(client: Client, key: str, seconds: float) -> None:
    """Pretend the session's ``key`` moment (last activity, or sign-in) was longer ago."""
    session = client.session
    session[key] -= seconds
    session.save()


def messages_on(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


# --- Idle timeout and absolute lifetime -------------------------------------------------


def test_the_idle_timeout_is_fifteen_minutes_by_default(settings):
    assert settings.SESSION_IDLE_TIMEOUT.total_seconds() == 15 * MINUTE


def test_it_signs_out_after_fifteen_idle_minutes(client, nina):
    sign_in(client, nina)
    turn_back_clock(client, LAST_ACTIVITY_KEY, 16 * MINUTE)

    response = client.get("/staff/")

    assert response.status_code == 302
    assert response["Location"] == "/staff/login/?next=/staff/"
    login_page = client.get(response["Location"])
    assert "signed out after a period of inactivity" in " ".join(messages_on(login_page))
    assert client.get("/staff/").status_code == 302  # signed out for real, not just redirected


def test_it_keeps_the_session_while_the_user_stays_active(client, nina):
    sign_in(client, nina)
    turn_back_clock(client, LAST_ACTIVITY_KEY, 14 * MINUTE)
    assert client.get("/staff/").status_code == 200

    # The request above restarted the idle clock: 28 minutes since sign-in, 14 idle.
    turn_back_clock(client, LAST_ACTIVITY_KEY, 14 * MINUTE)
    turn_back_clock(client, SIGNED_IN_AT_KEY, 28 * MINUTE)

    assert client.get("/staff/").status_code == 200


def test_the_idle_timeout_follows_the_setting(client, nina, settings):
    settings.SESSION_IDLE_TIMEOUT = timedelta(minutes=2)
    sign_in(client, nina)
    turn_back_clock(client, LAST_ACTIVITY_KEY, 3 * MINUTE)

    response = client.get("/staff/locations/")

    assert response.status_code == 302
    assert response["Location"] == "/staff/login/?next=/staff/locations/"


def test_it_signs_out_when_the_session_reaches_its_maximum_length(client, nina, settings):
    sign_in(client, nina)
    turn_back_clock(client, SIGNED_IN_AT_KEY, settings.SESSION_MAX_LIFETIME.total_seconds() + 60)

    response = client.get("/staff/", follow=True)

    assert response.redirect_chain == [("/staff/login/?next=/staff/", 302)]
    assert "reached its maximum length" in " ".join(messages_on(response))
    assert client.get("/staff/").status_code == 302


# --- Login lockout (django-axes) --------------------------------------------------------


def test_it_locks_the_account_after_repeated_failures_even_with_the_right_password(
    client, nina, settings
):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/staff/login/", {"username": nina.email, "password": "wrong password"})

    response = client.post("/staff/login/", {"username": nina.email, "password": PASSWORD})

    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert client.get("/staff/").status_code == 302


def test_a_few_failures_below_the_limit_do_not_lock_the_account(client, nina, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        response = client.post(
            "/staff/login/", {"username": nina.email, "password": "wrong password"}
        )
        assert "do not match an active staff account" in response.content.decode()

    response = client.post("/staff/login/", {"username": nina.email, "password": PASSWORD})

    assert response.status_code == 302
    enter_code(client, nina)
    assert client.get("/staff/").status_code == 200


# --- CSRF -------------------------------------------------------------------------------


def test_a_login_post_without_a_csrf_token_is_refused(nina):
    client = Client(enforce_csrf_checks=True)

    response = client.post("/staff/login/", {"username": nina.email, "password": PASSWORD})

    assert response.status_code == 403
    assert client.get("/staff/").status_code == 302


def test_a_login_post_with_the_csrf_token_is_accepted(nina):
    client = Client(enforce_csrf_checks=True)
    client.get("/staff/login/")
    token = client.cookies["csrftoken"].value

    response = client.post(
        "/staff/login/",
        {"username": nina.email, "password": PASSWORD, "csrfmiddlewaretoken": token},
    )

    assert response.status_code == 302


# --- Demo accounts ----------------------------------------------------------------------


@pytest.fixture
def demo_nurse(db, settings):
    return make_staff(f"nurse@{settings.DEMO_EMAIL_DOMAIN}", "Demo Nurse", Role.NURSE)


def test_demo_accounts_cannot_sign_in_when_debug_is_off(client, demo_nurse, settings):
    settings.DEBUG = False

    response = client.post("/staff/login/", {"username": demo_nurse.email, "password": PASSWORD})

    assert response.status_code == 200
    assert "do not match an active staff account" in response.content.decode()
    assert client.get("/staff/").status_code == 302


def test_demo_accounts_sign_in_while_debug_is_on(client, demo_nurse, settings):
    settings.DEBUG = True

    response = client.post("/staff/login/", {"username": demo_nurse.email, "password": PASSWORD})

    assert response.status_code == 302


def test_a_demo_physicians_token_reads_no_patients_when_debug_is_off(client, db, settings):
    settings.DEBUG = True  # demo accounts exist, and make tokens, only in a DEBUG run
    physician = make_staff(f"physician@{settings.DEMO_EMAIL_DOMAIN}", "Demo Doc", Role.PHYSICIAN)
    PatientFactory()
    auth = {"HTTP_AUTHORIZATION": f"Token {api_key_for(physician)}"}
    assert len(client.get("/api/v1/patients/", **auth).json()["results"]) == 1

    settings.DEBUG = False
    response = client.get("/api/v1/patients/", **auth)

    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    assert "results" not in response.json()


# --- Production settings ----------------------------------------------------------------


def test_a_production_configuration_passes_the_deploy_checks(test_database_url, tmp_path):
    production = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "SECURE_", "DJANGO_"))
        and key not in {"SILENCED_SYSTEM_CHECKS", "BEHIND_TLS_PROXY", "SECURE_COOKIES"}
    }
    production.update(
        DJANGO_SETTINGS_MODULE="clinic.settings",
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(48),  # 64 characters
        ALLOWED_HOSTS="clinic.example.org",
        DATABASE_URL=os.environ.get("DATABASE_URL") or test_database_url,
        CHAIRSIDE_DATA_DIR=str(tmp_path),
    )
    production.pop("DATABASE_URL_FILE", None)

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=production,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
