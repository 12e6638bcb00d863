"""Patient search through an index (patients.models.patient.SearchDocument).

The SQL function holds the searched words' expression. It is PL/pgSQL, which the planner
never inlines, so the COST it declares (a text search parse of four fields is some
hundred times an ordinary operator) is what the planner weighs per row. Built-in only: no
extension, so it runs on the embedded PostgreSQL too.
"""

import django.contrib.postgres.indexes
from django.db import migrations, models

import patients.models.patient

CREATE_FUNCTION = """
CREATE FUNCTION patient_search_document(
    first_name text, last_name text, preferred_name text, email text
) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE COST 1000
AS $$
BEGIN
    RETURN pg_catalog.to_tsvector(
        'pg_catalog.simple'::pg_catalog.regconfig,
        pg_catalog.translate(
            first_name || ' ' || last_name || ' ' || preferred_name || ' ' || email, '@.', '  '
        )
    );
END
$$;
"""
DROP_FUNCTION = "DROP FUNCTION patient_search_document(text, text, text, text);"


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0005_staff_sessions_and_tokens"),
        ("patients", "0003_safety_alert_booking_reason"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="patient",
            name="patient_name_idx",
        ),
        migrations.AddIndex(
            model_name="patient",
            index=models.Index(
                fields=["legal_last_name", "legal_first_name", "id"], name="patient_name_idx"
            ),
        ),
        migrations.RunSQL(CREATE_FUNCTION, DROP_FUNCTION),
        migrations.AddIndex(
            model_name="patient",
            index=django.contrib.postgres.indexes.GinIndex(
                patients.models.patient.SearchDocument(
                    "legal_first_name", "legal_last_name", "preferred_name", "email"
                ),
                name="patient_search_idx",
            ),
        ),
    ]
