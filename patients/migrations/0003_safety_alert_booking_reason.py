import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0002_followups_and_safety_alerts"),
        ("scheduling", "0002_default_appointment_types"),
    ]

    operations = [
        migrations.AddField(
            model_name="safetyalert",
            name="appointment",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="scheduling.appointment",
            ),
        ),
        migrations.AddField(
            model_name="safetyalert",
            name="reported_text",
            field=models.TextField(blank=True),
        ),
        migrations.AlterField(
            model_name="safetyalert",
            name="source",
            field=models.CharField(
                choices=[
                    ("phq9_item9", "PHQ-9 question 9 answered above 0"),
                    ("check_in", "Next-day check-in: thoughts of harming themselves"),
                    (
                        "booking_reason",
                        "Consultation booked online: the reason mentions suicide or self-harm",
                    ),
                ],
                max_length=20,
            ),
        ),
    ]
