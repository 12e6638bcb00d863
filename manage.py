#!/usr/bin/env python
import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clinic.settings")
    if not any(os.environ.get(name) for name in ("SECRET_KEY", "SECRET_KEY_FILE", "DEBUG")):
        # A checkout with nothing configured is a developer's: run commands as `make run`
        # does. Any deployment sets SECRET_KEY, and then nothing is assumed here.
        os.environ["DEBUG"] = "1"
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        # A setting that cannot be understood (clinic/env.py names the variable and what
        # it takes): the message is what to fix; a traceback would only hide it.
        sys.exit(f"Chairside cannot start: {error}")


if __name__ == "__main__":
    main()
