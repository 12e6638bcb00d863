"""The outbox's settings: a lease too short for a send stops start-up."""

from __future__ import annotations

from tests.test_settings_env import VALID, import_settings


def test_a_lease_shorter_than_the_sms_timeout_stops_start_up(tmp_path):
    result = import_settings(tmp_path, **VALID, OUTBOX_LEASE_SECONDS="10", SMS_TIMEOUT_SECONDS="10")

    assert result.returncode != 0
    assert "OUTBOX_LEASE_SECONDS=10 is too short" in result.stderr


def test_a_lease_shorter_than_the_smtp_timeout_stops_start_up(tmp_path):
    result = import_settings(
        tmp_path,
        **VALID,
        EMAIL_HOST="smtp.example.org",
        SITE_URL="https://clinic.example.org",
        OUTBOX_LEASE_SECONDS="15",
    )

    assert result.returncode != 0
    assert "OUTBOX_LEASE_SECONDS=15 is too short" in result.stderr


def test_a_lease_longer_than_every_timeout_is_accepted(tmp_path):
    result = import_settings(tmp_path, **VALID, OUTBOX_LEASE_SECONDS="30", SMS_TIMEOUT_SECONDS="5")

    assert result.returncode == 0, result.stderr
