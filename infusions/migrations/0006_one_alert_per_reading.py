"""One alert per reading, listing every value out of range (issue 11, point 7).

Until now a reading raised one ``SessionAlert`` per value out of range (186/112, HR 124:
three alerts, each acknowledged on its own). From here a reading raises one alert whose
``findings`` list every value: ``{"parameter", "direction", "value", "threshold",
"message"}``, in the order ``vitals.alerts_for`` gives them.

The existing alerts of a reading become one: the first (lowest id, so its public id and
the links to it stay) gets the findings of all of them, in id order (the order they were
raised in), and their messages joined; the events linked to the others are linked to it,
and the others go. Its acknowledgement:

- every alert of the reading acknowledged: the acknowledgement with the strongest action
  (stop, pause, medication given, slow, continue; the latest among equals), so a stop is
  never recorded as a "continue". When they were acknowledged differently, the note says
  how each value was, with each note, so nothing clinical is lost;
- any of them still open: the grouped alert is open, and a clinician acknowledges it again
  (who acknowledged the others stays in the audit log). Discharge needs every alert
  acknowledged, so this touches only sessions still at the chair.

The alerts and events are append-only (migration 0005): their triggers are switched off
for the regrouping only, inside this migration's transaction. Deferred foreign-key checks
are run before they are switched back on (PostgreSQL refuses ALTER TABLE with pending
trigger events). Going back is not supported: the per-value acknowledgements cannot be
told apart again.
"""

from django.db import migrations, models
from django.db.models import CharField, F, Func, Q
from django.db.models.lookups import Exact

REGROUP = """
ALTER TABLE infusions_sessionalert DISABLE TRIGGER infusions_sessionalert_append_only;
ALTER TABLE infusions_sessionevent DISABLE TRIGGER infusions_sessionevent_append_only;

WITH grouped AS (
    SELECT reading_id,
           min(id) AS kept_id,
           jsonb_agg(
               jsonb_build_object(
                   'parameter', parameter,
                   'direction', direction,
                   'value', value,
                   'threshold', threshold,
                   'message', message
               ) ORDER BY id
           ) AS findings,
           string_agg(message, ' ' ORDER BY id) AS message,
           bool_and(acknowledged_at IS NOT NULL) AS all_acknowledged,
           count(DISTINCT (acknowledged_by_id, action, action_note)) > 1 AS acknowledged_apart,
           string_agg(
               replace(parameter, '_', ' ') || ': ' || action
                   || coalesce(' (' || nullif(action_note, '') || ')', ''),
               '; ' ORDER BY id
           ) AS each_way
    FROM infusions_sessionalert
    GROUP BY reading_id
),
chosen AS (
    SELECT DISTINCT ON (reading_id)
           reading_id, acknowledged_by_id, acknowledged_at, action, action_note
    FROM infusions_sessionalert
    WHERE acknowledged_at IS NOT NULL
    ORDER BY reading_id,
             CASE action
                 WHEN 'stop' THEN 5
                 WHEN 'pause' THEN 4
                 WHEN 'medication' THEN 3
                 WHEN 'slow' THEN 2
                 ELSE 1
             END DESC,
             acknowledged_at DESC,
             id DESC
)
UPDATE infusions_sessionalert AS alert
SET findings = grouped.findings,
    message = grouped.message,
    acknowledged_by_id = CASE WHEN grouped.all_acknowledged THEN chosen.acknowledged_by_id END,
    acknowledged_at = CASE WHEN grouped.all_acknowledged THEN chosen.acknowledged_at END,
    action = CASE WHEN grouped.all_acknowledged THEN chosen.action ELSE '' END,
    action_note = CASE
        WHEN NOT grouped.all_acknowledged THEN ''
        WHEN grouped.acknowledged_apart THEN
            'Acknowledged value by value before alerts were grouped: '
                || grouped.each_way || '.'
        ELSE chosen.action_note
    END
FROM grouped
LEFT JOIN chosen ON chosen.reading_id = grouped.reading_id
WHERE alert.id = grouped.kept_id;

WITH kept AS (
    SELECT id, min(id) OVER (PARTITION BY reading_id) AS kept_id FROM infusions_sessionalert
)
UPDATE infusions_sessionevent AS event
SET alert_id = kept.kept_id
FROM kept
WHERE event.alert_id = kept.id AND kept.id <> kept.kept_id;

DELETE FROM infusions_sessionalert AS alert
WHERE alert.findings IS NULL;

SET CONSTRAINTS ALL IMMEDIATE;
ALTER TABLE infusions_sessionalert ENABLE TRIGGER infusions_sessionalert_append_only;
ALTER TABLE infusions_sessionevent ENABLE TRIGGER infusions_sessionevent_append_only;
"""


class Migration(migrations.Migration):
    dependencies = [("infusions", "0005_session_records_append_only")]

    operations = [
        migrations.AddField(
            model_name="sessionalert",
            name="findings",
            field=models.JSONField(null=True),
        ),
        migrations.RunSQL(REGROUP, reverse_sql=None),
        migrations.RemoveField(model_name="sessionalert", name="direction"),
        migrations.RemoveField(model_name="sessionalert", name="parameter"),
        migrations.RemoveField(model_name="sessionalert", name="threshold"),
        migrations.RemoveField(model_name="sessionalert", name="value"),
        migrations.AlterField(
            model_name="sessionalert",
            name="findings",
            field=models.JSONField(),
        ),
        migrations.AddConstraint(
            model_name="sessionalert",
            constraint=models.UniqueConstraint(fields=("reading",), name="alert_one_per_reading"),
        ),
        migrations.AddConstraint(
            model_name="sessionalert",
            constraint=models.CheckConstraint(
                condition=Q(
                    Exact(
                        Func(F("findings"), function="jsonb_typeof", output_field=CharField()),
                        "array",
                    )
                )
                & ~Q(findings=[]),
                name="alert_findings_not_empty",
            ),
        ),
    ]
