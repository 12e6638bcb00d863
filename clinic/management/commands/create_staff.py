"""``manage.py create_staff``: a staff account from the command line, for a fresh clinic.

The first account a clinic needs is its physician-admin (the medical director): only a
clinic admin who is also a physician may grant the physician and nurse roles in the staff
area (``clinic.accounts``), so nobody else could. Example::

    manage.py create_staff --email md@clinic.example --full-name "Dr Ada Rivera" \\
        --roles physician,clinic_admin

It prints a one-time link for the person to choose their password (SITE_URL, or
--site-url, gives its address). Clinical roles are refused once a physician-admin exists.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from clinic import accounts
from clinic.roles import Role


class Command(BaseCommand):
    help = (
        "Create a staff account with no password and print a one-time set-password link. "
        "Use it for a fresh clinic's first physician-admin: --roles physician,clinic_admin."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--email", required=True, help="The address they sign in with.")
        parser.add_argument("--full-name", required=True, help="As colleagues know them.")
        parser.add_argument(
            "--roles",
            required=True,
            help=f"Comma-separated, from: {', '.join(Role.values)}.",
        )
        parser.add_argument(
            "--site-url",
            default="",
            help="Address of the site for the link, e.g. https://clinic.example (default: "
            "SITE_URL).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        base = (options["site_url"] or settings.SITE_URL).rstrip("/")
        if not base:
            raise CommandError(
                "Set SITE_URL, or pass --site-url https://your-clinic.example, so the "
                "set-password link can be printed."
            )
        roles = [role.strip() for role in options["roles"].split(",") if role.strip()]
        try:
            member = accounts.staff_bootstrap(
                email=options["email"], full_name=options["full_name"], roles=roles
            )
        except ValidationError as error:
            problems = [
                f"--{field.replace('_', '-')}: {' '.join(messages)}"
                for field, messages in error.message_dict.items()
            ]
            raise CommandError("\n".join(problems)) from None
        token = default_token_generator.make_token(member)
        path = reverse("staff:set-password", kwargs={"public_id": member.public_id, "token": token})
        self.stdout.write(
            f"Created {member} ({member.email}) with roles {', '.join(member.role_labels)}.\n"
            f"Send them this one-time link to choose a password (it expires in "
            f"{settings.PASSWORD_RESET_TIMEOUT // 86400} days):\n{base}{path}"
        )
