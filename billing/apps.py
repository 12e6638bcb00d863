from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        # A draft invoice when a visit ends (scheduling.visit_end); the balance on the chart
        # (patients.views.chart.chart_page).
        from billing import contributions, visits  # noqa: F401
