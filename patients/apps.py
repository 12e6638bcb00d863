from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"

    def ready(self) -> None:
        # The follow-up and safety message kinds; registry.autodiscover imports only
        # patients/messages.py (the appointment-related kinds).
        # What the outbox (in the base) needs to know about patients.
        from clinic.messaging.recipients import register_patient_directory
        from patients import followup_messages  # noqa: F401
        from patients.messaging_hooks import PATIENT_DIRECTORY

        register_patient_directory(PATIENT_DIRECTORY)
