"""The outcomes dashboard is kept rendered (outcomes.views), keyed by the notes of writes
to the tables it is drawn from as a whole (clinic.fragments.writes_of): every patient,
every questionnaire score and the counted facts. Each gets the trigger that notes them."""

from django.db import migrations

TABLES = (
    "patients_patient",
    "patients_questionnaireresponse",
    "outcomes_patientoutcomefacts",
)

FORWARD = "\n".join(
    f"""
CREATE TRIGGER {table}_note_write
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION clinic_note_table_write();
"""
    for table in TABLES
)

BACKWARD = "\n".join(f"DROP TRIGGER IF EXISTS {table}_note_write ON {table};" for table in TABLES)


class Migration(migrations.Migration):
    dependencies = [
        ("clinic", "0006_table_writes"),
        ("outcomes", "0001_patient_outcome_facts"),
        ("patients", "0007_patient_mobile_search"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
