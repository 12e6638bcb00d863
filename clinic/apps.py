from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class ClinicConfig(AppConfig):
    default = True
    name = "clinic"
    verbose_name = "Clinic"

    def ready(self) -> None:
        from clinic import signals  # noqa: F401  (login auditing)


class ChairsideAdminConfig(admin_apps.AdminConfig):
    default = False
    default_site = "clinic.admin_site.ChairsideAdminSite"
