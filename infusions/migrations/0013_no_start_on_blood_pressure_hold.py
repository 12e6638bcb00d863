"""A session on a blood-pressure hold never passes its pre-assessment or starts, whoever
writes it.

``infusions.pre_bp`` keeps ``PreAssessment.bp_status`` at the worst of the session's
pre-infusion readings (a hold is sticky for the day); ``infusions.sessions`` refuses the
moves in words. Below the services, this trigger refuses moving a session from checked in or
pre-assessment passed to pre-assessment passed or infusing while its checks say "hold", and
to pre-assessment passed while a caution is not acknowledged.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION infusions_refuse_start_on_hold() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    status text;
    acknowledged timestamptz;
BEGIN
    IF NEW.state IS NOT DISTINCT FROM OLD.state
        OR NEW.state NOT IN ('pre_assessment_passed', 'infusing')
        OR OLD.state NOT IN ('checked_in', 'pre_assessment_passed') THEN
        RETURN NEW;
    END IF;
    SELECT bp_status, caution_acknowledged_at INTO status, acknowledged
        FROM infusions_preassessment WHERE session_id = NEW.id;
    IF status = 'hold' THEN
        RAISE EXCEPTION 'infusion session % is on a blood-pressure hold: no infusion today', NEW.id
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'no_start_on_blood_pressure_hold',
                  HINT = 'Mark the session not started (infusions.sessions).';
    END IF;
    IF NEW.state = 'pre_assessment_passed' AND status = 'caution' AND acknowledged IS NULL THEN
        RAISE EXCEPTION 'infusion session % has a blood-pressure caution nobody acknowledged', NEW.id
            USING ERRCODE = 'check_violation',
                  CONSTRAINT = 'no_start_on_blood_pressure_hold',
                  HINT = 'A physician acknowledges it (infusions.preassessment).';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER no_start_on_blood_pressure_hold
    BEFORE UPDATE OF state ON infusions_infusionsession
    FOR EACH ROW EXECUTE FUNCTION infusions_refuse_start_on_hold();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS no_start_on_blood_pressure_hold ON infusions_infusionsession;
DROP FUNCTION IF EXISTS infusions_refuse_start_on_hold();
"""


class Migration(migrations.Migration):
    dependencies = [("infusions", "0012_destruction")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
