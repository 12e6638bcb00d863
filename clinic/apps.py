from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ClinicConfig(AppConfig):
    default = True
    name = "clinic"
    verbose_name = "Clinic"

    def ready(self) -> None:
        from clinic import signals  # noqa: F401  (login auditing)
        from clinic.messaging import registry

        registry.autodiscover()  # each app's messages.py registers its kinds of message


class ChairsideAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "clinic.admin_site.ChairsideAdminSite"
