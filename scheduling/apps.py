from django.apps import AppConfig


class SchedulingConfig(AppConfig):
    name = "scheduling"

    def ready(self) -> None:
        # The chart's appointments and courses, the staff home's safety panel; the
        # questionnaires due before infusions and along courses (patients.followups).
        from scheduling import contributions, questionnaire_dues  # noqa: F401
