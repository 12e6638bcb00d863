"""Starting with a bad setting stops the process at once, naming the variable to fix.

Each case imports ``clinic.settings`` in a fresh interpreter, as `make run`, gunicorn
or a Celery worker would, with a clean environment plus the values under test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent

# A database URL that settings accept without connecting (nothing connects on import),
# so no case starts the embedded server.
VALID = {
    "SECRET_KEY": "x" * 64,
    "DATABASE_URL": "postgres://chairside@127.0.0.1:5432/chairside",
}
OURS = (
    "SECRET_KEY",
    "DEBUG",
    "PORT",
    "DATABASE_URL",
    "REDIS_URL",
    "ALLOWED_HOSTS",
    "SMS_",
    "EMAIL_",
    "SESSION_",
    "LOGIN_",
    "LOG_LEVEL",
    "SECURE_",
    "DJANGO_",
    "DOSE_",
    "ALERT_",
    "PRE_INFUSION_",
    "API_TOKEN_DAYS",
    "BILLING_",
)


def import_settings(tmp_path: Path, **values: str) -> subprocess.CompletedProcess:
    environ = {key: value for key, value in os.environ.items() if not key.startswith(OURS)}
    environ.update(CHAIRSIDE_DATA_DIR=str(tmp_path), **values)
    return subprocess.run(
        [sys.executable, "-c", "import clinic.settings"],
        cwd=BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_good_settings_import_cleanly(tmp_path):
    result = import_settings(tmp_path, **VALID)

    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "maybe", "DEBUG='maybe' is not a yes/no value"),
        ("PORT", "abc", "PORT='abc' is not a whole number"),
        ("PORT", "99999", "PORT=99999 is too large"),
        ("DATABASE_URL", "mysql://x", "DATABASE_URL must point at PostgreSQL"),
        ("SESSION_IDLE_MINUTES", "0", "SESSION_IDLE_MINUTES=0 is too small"),
        ("SMS_BACKEND", "pigeon", "SMS_BACKEND='pigeon' is not one of"),
        ("DOSE_MAX_MG_PER_KG", "0.05", "DOSE_LIMITS (from the environment) is not valid"),
        ("ALERT_SPO2_BELOW", "low", "ALERT_SPO2_BELOW='low' is not a whole number"),
        ("PRE_INFUSION_CAUTION_SYSTOLIC", "200", "PRE_INFUSION_BP_LIMITS (from the environment)"),
        ("API_TOKEN_DAYS", "0", "API_TOKEN_DAYS=0 is too small"),
        ("BILLING_CURRENCY", "DOLLARS", "BILLING_CURRENCY: 'DOLLARS' is not an ISO 4217"),
        ("BILLING_CURRENCY", "KWD", "KWD amounts have 3 decimal places"),
    ],
)
def test_a_bad_value_stops_start_up_and_names_the_variable(tmp_path, name, value, message):
    result = import_settings(tmp_path, **{**VALID, name: value})

    assert result.returncode != 0
    assert "django.core.exceptions.ImproperlyConfigured" in result.stderr
    assert message in result.stderr


def test_a_missing_secret_key_stops_a_production_start(tmp_path):
    result = import_settings(tmp_path, DATABASE_URL=VALID["DATABASE_URL"], DEBUG="false")

    assert result.returncode != 0
    assert "ImproperlyConfigured: SECRET_KEY is not set" in result.stderr


def test_a_development_start_makes_up_a_secret_key_under_the_data_dir(tmp_path):
    first = import_settings(tmp_path, DATABASE_URL=VALID["DATABASE_URL"], DEBUG="true")

    assert first.returncode == 0, first.stderr
    assert (tmp_path / "secret_key").read_text().strip()


def run_manage(tmp_path: Path, *args: str, **values: str) -> subprocess.CompletedProcess:
    environ = {key: value for key, value in os.environ.items() if not key.startswith(OURS)}
    environ.update(CHAIRSIDE_DATA_DIR=str(tmp_path), **values)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_manage_py_in_an_unconfigured_checkout_runs_as_development(tmp_path):
    result = run_manage(tmp_path, "check", DATABASE_URL=VALID["DATABASE_URL"])

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "secret_key").exists()


def test_manage_py_assumes_nothing_once_debug_is_set_off(tmp_path):
    result = run_manage(tmp_path, "check", DATABASE_URL=VALID["DATABASE_URL"], DEBUG="0")

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


def test_manage_py_says_what_to_fix_without_a_traceback(tmp_path):
    result = run_manage(
        tmp_path, "check", DATABASE_URL=VALID["DATABASE_URL"], CHECK_IN_EARLY_MINUTES="1440"
    )

    assert result.returncode == 1
    assert result.stderr.strip() == (
        "Chairside cannot start: CHECK_IN_EARLY_MINUTES=1440 is too large: the most allowed is 720."
    )
