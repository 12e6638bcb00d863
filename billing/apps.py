from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        # A draft invoice when a visit ends (scheduling.visit_end); the balance on the chart
        # (patients.views.chart.chart_page); what is left of the patient's packages on the
        # chart and the appointment page (billing.package_contributions).
        # The online booking policy (scheduling.booking_terms), the fees a no-show or a late
        # cancellation proposes (scheduling.status_hooks), the card link's message kind and
        # the staff home's panel of fees to decide.
        from billing import (  # noqa: F401
            card_links,
            contributions,
            deposits,
            fee_panel,
            fees,
            package_contributions,
            visits,
        )
