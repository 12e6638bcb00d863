from django.apps import AppConfig


class InfusionsConfig(AppConfig):
    name = "infusions"

    def ready(self) -> None:
        # The infusion session owns the clinical state of infusion appointments: the board
        # and the appointment API move them through it (scheduling.session_owner).
        from infusions.sessions import AppointmentSessions
        from scheduling import session_owner

        session_owner.register(AppointmentSessions())
