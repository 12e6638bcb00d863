from django.apps import AppConfig


class InfusionsConfig(AppConfig):
    name = "infusions"

    def ready(self) -> None:
        # The infusion session owns the clinical state of infusion appointments: the board
        # and the appointment API move them through it (scheduling.session_owner).
        from infusions.sessions import AppointmentSessions
        from scheduling import session_owner

        session_owner.register(AppointmentSessions())
        # The board's session badges and alerts banner, the appointment page's session,
        # the chart's sessions, the staff home's alerts panel.
        from infusions import contributions  # noqa: F401
