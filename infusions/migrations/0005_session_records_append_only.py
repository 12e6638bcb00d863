"""The session's clinical record is append-only for every database role.

- State changes, dose orders, administrations and discharges: never updated or deleted.
- Readings and events: only the "entered in error" columns may be filled in, once.
- Alerts: only the acknowledgement columns may be filled in, once.

Each table gets a trigger calling one function, told by its arguments which columns may
change (none for the first group). TRUNCATE (test teardown) fires no row triggers.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION infusions_record_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    changeable text[] := TG_ARGV;
    old_rest jsonb;
    new_rest jsonb;
    column_name text;
BEGIN
    IF TG_OP = 'UPDATE' AND array_length(changeable, 1) > 0 THEN
        old_rest := to_jsonb(OLD);
        new_rest := to_jsonb(NEW);
        FOREACH column_name IN ARRAY changeable LOOP
            IF old_rest -> column_name <> 'null'::jsonb
                AND old_rest -> column_name <> '""'::jsonb
                AND old_rest -> column_name IS DISTINCT FROM new_rest -> column_name THEN
                RAISE EXCEPTION '% of % was recorded already and cannot change',
                    column_name, TG_TABLE_NAME
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            old_rest := old_rest - column_name;
            new_rest := new_rest - column_name;
        END LOOP;
        IF old_rest = new_rest THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'the session record % is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Record a new entry instead.';
END;
$$;
"""

TABLES = {
    "infusions_sessionstatechange": [],
    "infusions_doseorder": [],
    "infusions_doseadministration": [],
    "infusions_discharge": [],
    "infusions_vitalsreading": [
        "entered_in_error_at",
        "entered_in_error_by_id",
        "entered_in_error_reason",
    ],
    "infusions_sessionevent": [
        "entered_in_error_at",
        "entered_in_error_by_id",
        "entered_in_error_reason",
    ],
    "infusions_sessionalert": ["acknowledged_at", "acknowledged_by_id", "action", "action_note"],
}

for table, columns in TABLES.items():
    arguments = ", ".join(f"'{column}'" for column in columns)
    FORWARD += f"""
CREATE TRIGGER {table}_append_only
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION infusions_record_reject_change({arguments});
"""

BACKWARD = (
    "".join(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};\n" for table in TABLES)
    + "DROP FUNCTION IF EXISTS infusions_record_reject_change();\n"
)


class Migration(migrations.Migration):
    dependencies = [("infusions", "0004_session_records")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
