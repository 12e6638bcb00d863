"""What the patient wrote when booking online ("Tell us a little more"), kept with the
appointment for the staff (``Appointment.booking_note``). Existing rows get "" (nothing was
kept before)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0003_appointment_status_changes"),
    ]

    operations = [
        migrations.AddField(
            model_name="appointment",
            name="booking_note",
            field=models.TextField(blank=True),
        ),
    ]
