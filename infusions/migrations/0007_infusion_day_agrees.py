"""An infusion appointment and its session never disagree, whoever writes them.

The session owns the clinical state of an infusion or booster appointment
(``infusions.sessions``); the appointment's status follows it. Below the services, two
constraint triggers (one on each table) check at commit that the appointment's status is
one its session's state allows:

    no session, scheduled           booked, cancelled, no-show
    checked in, pre-assessment      checked in
    infusing, paused                infusing
    recovering                      recovering
    stopped early                   recovering, discharged
    discharged                      discharged
    not started                     cancelled, no-show

They are deferred to the end of the transaction, because the services move the session and
then the appointment within one; ``SET CONSTRAINTS infusion_day_agrees_appointment,
infusion_day_agrees_session IMMEDIATE`` checks at once (the tests do).
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION infusions_check_day_agrees() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    appointment_pk bigint;
    appointment_status text;
    appointment_kind text;
    session_state text;
    allowed text[];
BEGIN
    IF TG_TABLE_NAME = 'scheduling_appointment' THEN
        appointment_pk := NEW.id;
    ELSE
        appointment_pk := NEW.appointment_id;
    END IF;
    SELECT appointment.status, kind.kind INTO appointment_status, appointment_kind
        FROM scheduling_appointment appointment
        JOIN scheduling_appointmenttype kind ON kind.id = appointment.appointment_type_id
        WHERE appointment.id = appointment_pk;
    IF appointment_kind IS NULL OR appointment_kind NOT IN ('infusion', 'booster') THEN
        RETURN NULL;
    END IF;
    SELECT state INTO session_state
        FROM infusions_infusionsession WHERE appointment_id = appointment_pk;
    allowed := CASE COALESCE(session_state, 'scheduled')
        WHEN 'scheduled' THEN ARRAY['booked', 'cancelled', 'no_show']
        WHEN 'checked_in' THEN ARRAY['checked_in']
        WHEN 'pre_assessment_passed' THEN ARRAY['checked_in']
        WHEN 'infusing' THEN ARRAY['infusing']
        WHEN 'paused' THEN ARRAY['infusing']
        WHEN 'recovering' THEN ARRAY['recovering']
        WHEN 'stopped_early' THEN ARRAY['recovering', 'discharged']
        WHEN 'discharged' THEN ARRAY['discharged']
        WHEN 'not_started' THEN ARRAY['cancelled', 'no_show']
        ELSE ARRAY[]::text[]
    END;
    IF NOT appointment_status = ANY (allowed) THEN
        RAISE EXCEPTION 'infusion appointment % is % but its session is %',
            appointment_pk, appointment_status, COALESCE(session_state, 'not open')
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'infusion_day_agrees',
                  HINT = 'Move an infusion appointment through its session (infusions.sessions).';
    END IF;
    RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER infusion_day_agrees_appointment
    AFTER INSERT OR UPDATE OF status, appointment_type_id ON scheduling_appointment
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION infusions_check_day_agrees();

CREATE CONSTRAINT TRIGGER infusion_day_agrees_session
    AFTER INSERT OR UPDATE OF state, appointment_id ON infusions_infusionsession
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION infusions_check_day_agrees();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS infusion_day_agrees_appointment ON scheduling_appointment;
DROP TRIGGER IF EXISTS infusion_day_agrees_session ON infusions_infusionsession;
DROP FUNCTION IF EXISTS infusions_check_day_agrees();
"""


class Migration(migrations.Migration):
    dependencies = [
        ("infusions", "0006_one_alert_per_reading"),
        ("scheduling", "0003_appointment_status_changes"),
    ]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
