"""The history of each appointment's status: who checked the patient in, marked a no-show or
cancelled, and when, so the move can be undone for a short while. Append-only: a trigger
refuses UPDATE and DELETE (TRUNCATE, at test teardown, fires no row trigger)."""

import django.contrib.postgres.fields
import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

APPEND_ONLY = """
CREATE FUNCTION scheduling_status_change_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the appointment status history is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Record a new status change instead.';
END;
$$;
CREATE TRIGGER scheduling_appointmentstatuschange_append_only
    BEFORE UPDATE OR DELETE ON scheduling_appointmentstatuschange
    FOR EACH ROW EXECUTE FUNCTION scheduling_status_change_append_only();
"""
DROP_APPEND_ONLY = """
DROP TRIGGER IF EXISTS scheduling_appointmentstatuschange_append_only
    ON scheduling_appointmentstatuschange;
DROP FUNCTION IF EXISTS scheduling_status_change_append_only();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("scheduling", "0002_default_appointment_types"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AppointmentStatusChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "from_status",
                    models.CharField(
                        choices=[
                            ("booked", "Booked"),
                            ("checked_in", "Checked in"),
                            ("infusing", "Infusing"),
                            ("recovering", "Recovering"),
                            ("discharged", "Discharged"),
                            ("no_show", "No-show"),
                            ("cancelled", "Cancelled"),
                        ],
                        max_length=20,
                    ),
                ),
                (
                    "to_status",
                    models.CharField(
                        choices=[
                            ("booked", "Booked"),
                            ("checked_in", "Checked in"),
                            ("infusing", "Infusing"),
                            ("recovering", "Recovering"),
                            ("discharged", "Discharged"),
                            ("no_show", "No-show"),
                            ("cancelled", "Cancelled"),
                        ],
                        max_length=20,
                    ),
                ),
                ("at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "by_roles",
                    django.contrib.postgres.fields.ArrayField(
                        base_field=models.CharField(max_length=30),
                        blank=True,
                        default=list,
                        size=None,
                    ),
                ),
                ("reason", models.TextField(blank=True)),
                ("undo", models.BooleanField(default=False)),
                (
                    "appointment",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="status_changes",
                        to="scheduling.appointment",
                    ),
                ),
                (
                    "by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["at", "id"],
                "indexes": [
                    models.Index(fields=["appointment", "at"], name="appointment_status_change_idx")
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            ("undo", False),
                            models.Q(("reason", ""), _negated=True),
                            _connector="OR",
                        ),
                        name="appointment_undo_has_reason",
                    )
                ],
            },
        ),
        migrations.RunSQL(APPEND_ONLY, DROP_APPEND_ONLY),
    ]
