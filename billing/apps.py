from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        # A draft invoice when a visit ends (scheduling.visit_end); the balance on the chart
        # (patients.views.chart.chart_page); what is left of the patient's packages on the
        # chart and the appointment page.
        from billing import contributions, package_contributions, visits  # noqa: F401
