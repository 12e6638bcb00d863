"""The appointment types every clinic starts with (DOMAIN.md); admins may change the minutes."""

from django.db import migrations

DEFAULTS = [
    # kind, name, minutes, recovery minutes, needs a chair, clinician, bookable online
    ("consultation", "Consultation", 45, 0, False, "physician", True),
    ("infusion", "Infusion", 40, 45, True, "nurse", False),
    ("booster", "Booster infusion", 40, 45, True, "nurse", False),
    ("follow_up", "Follow-up visit", 30, 0, False, "physician", False),
]


def add_defaults(apps, schema_editor):
    AppointmentType = apps.get_model("scheduling", "AppointmentType")
    for kind, name, minutes, recovery, chair, clinician, online in DEFAULTS:
        AppointmentType.objects.get_or_create(
            kind=kind,
            defaults={
                "name": name,
                "duration_minutes": minutes,
                "recovery_minutes": recovery,
                "needs_chair": chair,
                "clinician": clinician,
                "bookable_online": online,
            },
        )


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0001_initial")]

    operations = [migrations.RunPython(add_defaults, migrations.RunPython.noop)]
