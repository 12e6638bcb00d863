"""Notes of writes to whole tables (clinic.models.TableWrite), for kept fragments drawn
from a whole large table: the function a table's trigger runs (clinic.fragments.writes_of
says how a table gets one)."""

from django.db import migrations, models


# One note per statement that wrote to the table, and the table's older notes go: a new
# note is always there once its transaction has committed, so the notes a reader sees
# differ after every committed write, and there are never more than a few. Notes another
# transaction is deleting are skipped, not waited for: writers never wait on each other
# here.
FORWARD = """
CREATE FUNCTION clinic_note_table_write() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    noted bigint;
BEGIN
    INSERT INTO clinic_tablewrite (table_name) VALUES (TG_TABLE_NAME) RETURNING id INTO noted;
    DELETE FROM clinic_tablewrite WHERE id IN (
        SELECT id FROM clinic_tablewrite
        WHERE table_name = TG_TABLE_NAME AND id <> noted
        FOR UPDATE SKIP LOCKED
    );
    RETURN NULL;
END;
$$;
"""

BACKWARD = "DROP FUNCTION IF EXISTS clinic_note_table_write();"


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0005_staff_sessions_and_tokens"),
    ]

    operations = [
        migrations.CreateModel(
            name="TableWrite",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("table_name", models.CharField(max_length=63)),
            ],
            options={
                "indexes": [models.Index(fields=["table_name", "id"], name="table_write_idx")],
            },
        ),
        migrations.RunSQL(FORWARD, BACKWARD),
    ]
