from django.apps import AppConfig


class OutcomesConfig(AppConfig):
    name = "outcomes"

    def ready(self) -> None:
        # The chart's outcomes section.
        from outcomes import contributions  # noqa: F401
