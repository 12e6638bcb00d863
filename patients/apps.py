from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"

    def ready(self) -> None:
        from clinic.messaging.recipients import register_patient_directory

        # The follow-up and safety message kinds (registry.autodiscover imports only
        # patients/messages.py, the appointment-related kinds).
        from patients import followup_messages  # noqa: F401

        # What the outbox (in the base) needs to know about patients.
        from patients.messaging_hooks import PATIENT_DIRECTORY

        register_patient_directory(PATIENT_DIRECTORY)
