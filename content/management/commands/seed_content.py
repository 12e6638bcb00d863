"""``manage.py seed_content``: add the initial FAQ and articles that are missing.

The data migration ``content/0002_initial_content`` already loads them on a fresh install,
and ``seed_demo`` runs this too; it is here for a database migrated before the content
existed, and to show what is there. Anything already loaded is left as editors made it.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from content.initial import seed_content_result


class Command(BaseCommand):
    help = (
        "Create the initial FAQ categories, questions and articles that do not exist yet, "
        "published. Never changes one that exists (by its seed key), so editors' changes "
        "stay. Safe to run repeatedly."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = seed_content_result()
        if options["verbosity"] == 0:
            return
        for slug in result.categories:
            self.stdout.write(f"Created FAQ category {slug}")
        for key in result.entries + result.articles:
            self.stdout.write(f"Created and published {key}")
        for key in result.skipped:
            self.stdout.write(
                self.style.WARNING(
                    f"Skipped {key}: another article already uses its address (slug). "
                    "Nothing was changed; rename one of them in the staff area if you "
                    "want both."
                )
            )
        self.stdout.write(
            f"Initial content: {len(result.categories)} FAQ categories, "
            f"{len(result.entries)} FAQ entries and {len(result.articles)} articles created; "
            "everything else was already there."
        )
