from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"

    def ready(self) -> None:
        # The follow-up and safety message kinds; registry.autodiscover imports only
        # patients/messages.py (the appointment-related kinds).
        from patients import followup_messages  # noqa: F401
