"""Typed readers for settings that come from the environment.

Every value the deployment can change is read here, once, by ``clinic.settings``.
A value that cannot be understood stops the process with ``ImproperlyConfigured``
naming the variable and what would be accepted, rather than running with a guess.
Secrets may also come from a file named by ``<NAME>_FILE`` (Docker and systemd
secrets), which wins over nothing but is refused when both are set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class Env:
    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def _raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        if value is None:
            return None
        value = value.strip()
        return value or None

    def str(self, name: str, default: str = "") -> str:
        value = self._raw(name)
        return default if value is None else value

    def bool(self, name: str, default: bool = False) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        raise ImproperlyConfigured(
            f"{name}={value!r} is not a yes/no value: "
            "use one of 1, true, yes, on, 0, false, no, off."
        )

    def int(
        self, name: str, default: int, *, min_value: int | None = None, max_value: int | None = None
    ) -> int:
        value = self._raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise ImproperlyConfigured(f"{name}={value!r} is not a whole number.") from None
        if min_value is not None and number < min_value:
            raise ImproperlyConfigured(
                f"{name}={number} is too small: the least allowed is {min_value}."
            )
        if max_value is not None and number > max_value:
            raise ImproperlyConfigured(
                f"{name}={number} is too large: the most allowed is {max_value}."
            )
        return number

    def list(self, name: str, default: list[str] | None = None) -> list[str]:
        value = self._raw(name)
        if value is None:
            return list(default or [])
        return [item.strip() for item in value.split(",") if item.strip()]

    def choice(self, name: str, default: str, choices: list[str]) -> str:
        value = self.str(name, default)
        if value not in choices:
            raise ImproperlyConfigured(f"{name}={value!r} is not one of: {', '.join(choices)}.")
        return value

    def secret(self, name: str, default: str = "") -> str:
        """Read ``name`` or the contents of the file named by ``name_FILE``."""
        value = self._raw(name)
        file_name = self._raw(f"{name}_FILE")
        if value is not None and file_name is not None:
            raise ImproperlyConfigured(f"Set either {name} or {name}_FILE, not both.")
        if file_name is None:
            return default if value is None else value
        try:
            content = Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(
                f"{name}_FILE={file_name!r} cannot be read ({exc.strerror})."
            ) from None
        if not content:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} is empty.")
        return content


env = Env()
