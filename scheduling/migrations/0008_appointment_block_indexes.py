"""Appointments by location and by clinician, by when they stop blocking: what could clash
with a time from now on (scheduling.availability, the public list of free times)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0007_spravato_session_type"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(
                fields=["location", "blocks_until"], name="appointment_loc_block_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="appointment",
            index=models.Index(
                fields=["clinician", "blocks_until"], name="appointment_clin_block_idx"
            ),
        ),
    ]
