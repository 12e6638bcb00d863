"""clinic.env: typed settings from the environment that refuse what they cannot understand."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from clinic.env import Env


def test_it_reads_yes_and_no_in_the_usual_spellings():
    env = Env({"A": "1", "B": "Yes", "C": " on ", "D": "0", "E": "FALSE", "F": "off"})

    assert [env.bool(name) for name in "ABCDEF"] == [True, True, True, False, False, False]


def test_it_uses_the_default_for_a_missing_or_blank_value():
    env = Env({"BLANK": "   "})

    assert env.bool("MISSING", True) is True
    assert env.bool("BLANK", True) is True
    assert env.int("BLANK", 7) == 7
    assert env.str("BLANK", "fallback") == "fallback"
    assert env.list("MISSING", ["a"]) == ["a"]
    assert env.secret("MISSING", "default") == "default"


def test_it_refuses_a_yes_no_value_it_cannot_read():
    with pytest.raises(ImproperlyConfigured, match=r"DEBUG='maybe' is not a yes/no value"):
        Env({"DEBUG": "maybe"}).bool("DEBUG")


def test_it_reads_whole_numbers_within_bounds():
    env = Env({"PORT": "8080"})

    assert env.int("PORT", 8000, min_value=1, max_value=65535) == 8080


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("abc", r"PORT='abc' is not a whole number"),
        ("8.5", r"PORT='8.5' is not a whole number"),
        ("0", r"PORT=0 is too small: the least allowed is 1"),
        ("70000", r"PORT=70000 is too large: the most allowed is 65535"),
    ],
)
def test_it_refuses_a_number_it_cannot_use(value, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        Env({"PORT": value}).int("PORT", 8000, min_value=1, max_value=65535)


def test_it_splits_lists_on_commas_and_drops_empty_items():
    env = Env({"ALLOWED_HOSTS": " clinic.example.org, ,www.clinic.example.org,"})

    assert env.list("ALLOWED_HOSTS") == ["clinic.example.org", "www.clinic.example.org"]


def test_it_accepts_only_the_listed_choices():
    env = Env({"SMS_BACKEND": "http", "LOG_LEVEL": "LOUD"})

    assert env.choice("SMS_BACKEND", "file", ["file", "http"]) == "http"
    assert env.choice("MISSING", "file", ["file", "http"]) == "file"
    with pytest.raises(ImproperlyConfigured, match=r"LOG_LEVEL='LOUD' is not one of: DEBUG, INFO"):
        env.choice("LOG_LEVEL", "INFO", ["DEBUG", "INFO"])


def test_it_reads_a_secret_from_the_variable():
    assert Env({"SECRET_KEY": "s3cret"}).secret("SECRET_KEY") == "s3cret"


def test_it_reads_a_secret_from_the_file_named_by_name_file(tmp_path):
    secret_file = tmp_path / "secret_key"
    secret_file.write_text("from-a-file\n")

    env = Env({"SECRET_KEY_FILE": str(secret_file)})

    assert env.secret("SECRET_KEY") == "from-a-file"


def test_it_refuses_a_secret_set_both_ways(tmp_path):
    secret_file = tmp_path / "secret_key"
    secret_file.write_text("from-a-file")
    env = Env({"SECRET_KEY": "inline", "SECRET_KEY_FILE": str(secret_file)})

    with pytest.raises(ImproperlyConfigured, match=r"Set either SECRET_KEY or SECRET_KEY_FILE"):
        env.secret("SECRET_KEY")


def test_it_refuses_a_secret_file_it_cannot_read(tmp_path):
    env = Env({"SECRET_KEY_FILE": str(tmp_path / "missing")})

    with pytest.raises(ImproperlyConfigured, match=r"SECRET_KEY_FILE=.*cannot be read"):
        env.secret("SECRET_KEY")


def test_it_refuses_an_empty_secret_file(tmp_path):
    secret_file = tmp_path / "secret_key"
    secret_file.write_text("  \n")

    with pytest.raises(ImproperlyConfigured, match=r"SECRET_KEY_FILE=.* is empty"):
        Env({"SECRET_KEY_FILE": str(secret_file)}).secret("SECRET_KEY")


def test_it_never_puts_a_secret_in_its_error_messages(tmp_path):
    secret_file = tmp_path / "secret_key"
    secret_file.write_text("from-a-file")

    with pytest.raises(ImproperlyConfigured) as refused:
        Env({"SECRET_KEY": "hunter2-inline", "SECRET_KEY_FILE": str(secret_file)}).secret(
            "SECRET_KEY"
        )

    assert "hunter2" not in str(refused.value)
    assert "from-a-file" not in str(refused.value)
