"""The controlled-substance ledger is append-only for every database role.

Ledger entries may be inserted, never changed or deleted. A lot may be inserted and its
running ``balance_mg`` changed (by infusions.ledger, next to a new entry); nothing else on
it changes and it is never deleted. TRUNCATE (used by test teardown) fires no row triggers.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION infusions_ledgerentry_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the controlled-substance ledger is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Record a correcting entry instead.';
END;
$$;

CREATE TRIGGER infusions_ledgerentry_append_only
    BEFORE UPDATE OR DELETE ON infusions_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION infusions_ledgerentry_reject_change();

CREATE FUNCTION infusions_lot_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND (to_jsonb(NEW) - 'balance_mg') = (to_jsonb(OLD) - 'balance_mg') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'a ketamine lot may only change its balance: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Record a correcting ledger entry instead.';
END;
$$;

CREATE TRIGGER infusions_lot_balance_only
    BEFORE UPDATE OR DELETE ON infusions_lot
    FOR EACH ROW EXECUTE FUNCTION infusions_lot_reject_change();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS infusions_lot_balance_only ON infusions_lot;
DROP FUNCTION IF EXISTS infusions_lot_reject_change();
DROP TRIGGER IF EXISTS infusions_ledgerentry_append_only ON infusions_ledgerentry;
DROP FUNCTION IF EXISTS infusions_ledgerentry_reject_change();
"""


class Migration(migrations.Migration):
    dependencies = [("infusions", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
