"""The "Spravato session" appointment type: 15 minutes for the esketamine dose and 120 of
monitoring after it (the REMS minimum), so the chair stays booked until the patient may go."""

from django.db import migrations, models


def add_spravato(apps, schema_editor):
    AppointmentType = apps.get_model("scheduling", "AppointmentType")
    AppointmentType.objects.get_or_create(
        kind="spravato",
        defaults={
            "name": "Spravato session",
            "duration_minutes": 15,
            "recovery_minutes": 120,
            "needs_chair": True,
            "clinician": "nurse",
            "bookable_online": False,
        },
    )


class Migration(migrations.Migration):
    dependencies = [("scheduling", "0006_appointment_cancelled_by_clinic")]

    operations = [
        migrations.AlterField(
            model_name="appointmenttype",
            name="kind",
            field=models.CharField(
                choices=[
                    ("consultation", "Consultation"),
                    ("infusion", "Infusion"),
                    ("booster", "Booster infusion"),
                    ("follow_up", "Follow-up visit"),
                    ("spravato", "Spravato session"),
                ],
                max_length=20,
                unique=True,
            ),
        ),
        migrations.RunPython(add_spravato, migrations.RunPython.noop),
    ]
