"""The books are append-only for every database role (ARCHITECTURE invariant 9).

- An invoice is never deleted. It keeps its patient, visit and currency. A draft may change
  (and is issued only with at least one line); an issued invoice may only be voided; a void
  one never changes again.
- Lines change only while their invoice is a draft.
- Credit notes, payments and refunds are inserted, never changed or deleted. A credit note
  or a payment is refused for more than the invoice still owes (a payment only on an issued
  invoice, a credit note only on one that was issued); a refund for more than is left of its
  payment. Each insert first locks the invoice (or the payment), so two at once are checked
  one after the other.

What an invoice owes is ``billing_invoice_due``: its lines − credit notes − payments +
refunds, the same sum ``billing.selectors`` reads. TRUNCATE (test teardown) fires no row
triggers.
"""

from django.db import migrations

FORWARD = """
CREATE FUNCTION billing_invoice_due(invoice bigint) RETURNS numeric
LANGUAGE sql STABLE AS $$
    SELECT COALESCE((SELECT SUM(amount) FROM billing_invoiceline WHERE invoice_id = invoice), 0)
         - COALESCE((SELECT SUM(amount) FROM billing_creditnote WHERE invoice_id = invoice), 0)
         - COALESCE((SELECT SUM(amount) FROM billing_payment WHERE invoice_id = invoice), 0)
         + COALESCE((SELECT SUM(r.amount) FROM billing_refund r
                     JOIN billing_payment p ON p.id = r.payment_id
                     WHERE p.invoice_id = invoice), 0)
$$;

CREATE FUNCTION billing_invoice_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    kept text[] := ARRAY['status', 'voided_at', 'voided_by_id', 'void_reason'];
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'an invoice is never deleted'
            USING ERRCODE = 'insufficient_privilege', HINT = 'Void it, with a reason.';
    END IF;
    IF NEW.public_id <> OLD.public_id OR NEW.patient_id <> OLD.patient_id
        OR NEW.appointment_id IS DISTINCT FROM OLD.appointment_id
        OR NEW.currency <> OLD.currency OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'an invoice keeps its patient, visit and currency'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF OLD.status = 'draft' THEN
        IF NEW.status = 'issued'
            AND NOT EXISTS (SELECT 1 FROM billing_invoiceline WHERE invoice_id = NEW.id) THEN
            RAISE EXCEPTION 'an invoice with no lines cannot be issued'
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NEW;
    END IF;
    IF OLD.status = 'issued' AND NEW.status = 'void'
        AND (to_jsonb(NEW) - kept) = (to_jsonb(OLD) - kept) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'an % invoice cannot be changed (to %)', OLD.status, NEW.status
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Correct an issued invoice with a credit note, or void it.';
END;
$$;

CREATE TRIGGER billing_invoice_guard
    BEFORE UPDATE OR DELETE ON billing_invoice
    FOR EACH ROW EXECUTE FUNCTION billing_invoice_guard();

CREATE FUNCTION billing_invoiceline_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    invoice_status text;
BEGIN
    IF TG_OP <> 'INSERT' THEN
        SELECT status INTO invoice_status FROM billing_invoice WHERE id = OLD.invoice_id FOR SHARE;
        IF invoice_status <> 'draft' THEN
            RAISE EXCEPTION 'the lines of an % invoice cannot change', invoice_status
                USING ERRCODE = 'insufficient_privilege', HINT = 'Write a credit note instead.';
        END IF;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        SELECT status INTO invoice_status FROM billing_invoice WHERE id = NEW.invoice_id FOR SHARE;
        IF invoice_status <> 'draft' THEN
            RAISE EXCEPTION 'the lines of an % invoice cannot change', invoice_status
                USING ERRCODE = 'insufficient_privilege', HINT = 'Write a credit note instead.';
        END IF;
        RETURN NEW;
    END IF;
    RETURN OLD;
END;
$$;

CREATE TRIGGER billing_invoiceline_guard
    BEFORE INSERT OR UPDATE OR DELETE ON billing_invoiceline
    FOR EACH ROW EXECUTE FUNCTION billing_invoiceline_guard();

CREATE FUNCTION billing_reject_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% rows are append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'Correct a payment with a refund, an invoice with a credit note.';
END;
$$;

CREATE FUNCTION billing_creditnote_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    invoice_issued timestamptz;
BEGIN
    SELECT issued_at INTO invoice_issued FROM billing_invoice WHERE id = NEW.invoice_id FOR UPDATE;
    IF invoice_issued IS NULL THEN
        RAISE EXCEPTION 'a credit note is for an issued invoice' USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.amount > billing_invoice_due(NEW.invoice_id) THEN
        RAISE EXCEPTION 'a credit note may not be more than the invoice still owes'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE FUNCTION billing_payment_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    invoice_status text;
BEGIN
    SELECT status INTO invoice_status FROM billing_invoice WHERE id = NEW.invoice_id FOR UPDATE;
    IF invoice_status <> 'issued' THEN
        RAISE EXCEPTION 'a payment is for an issued invoice, not a % one', invoice_status
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.amount > billing_invoice_due(NEW.invoice_id) THEN
        RAISE EXCEPTION 'a payment may not be more than the invoice still owes'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE FUNCTION billing_refund_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    paid numeric;
BEGIN
    SELECT amount INTO paid FROM billing_payment WHERE id = NEW.payment_id FOR UPDATE;
    IF NEW.amount + COALESCE(
        (SELECT SUM(amount) FROM billing_refund WHERE payment_id = NEW.payment_id), 0
    ) > paid THEN
        RAISE EXCEPTION 'a refund may not be more than is left of its payment'
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER billing_creditnote_append_only BEFORE UPDATE OR DELETE ON billing_creditnote
    FOR EACH ROW EXECUTE FUNCTION billing_reject_change();
CREATE TRIGGER billing_creditnote_check BEFORE INSERT ON billing_creditnote
    FOR EACH ROW EXECUTE FUNCTION billing_creditnote_check();
CREATE TRIGGER billing_payment_append_only BEFORE UPDATE OR DELETE ON billing_payment
    FOR EACH ROW EXECUTE FUNCTION billing_reject_change();
CREATE TRIGGER billing_payment_check BEFORE INSERT ON billing_payment
    FOR EACH ROW EXECUTE FUNCTION billing_payment_check();
CREATE TRIGGER billing_refund_append_only BEFORE UPDATE OR DELETE ON billing_refund
    FOR EACH ROW EXECUTE FUNCTION billing_reject_change();
CREATE TRIGGER billing_refund_check BEFORE INSERT ON billing_refund
    FOR EACH ROW EXECUTE FUNCTION billing_refund_check();
"""

BACKWARD = """
DROP TRIGGER IF EXISTS billing_refund_check ON billing_refund;
DROP TRIGGER IF EXISTS billing_refund_append_only ON billing_refund;
DROP TRIGGER IF EXISTS billing_payment_check ON billing_payment;
DROP TRIGGER IF EXISTS billing_payment_append_only ON billing_payment;
DROP TRIGGER IF EXISTS billing_creditnote_check ON billing_creditnote;
DROP TRIGGER IF EXISTS billing_creditnote_append_only ON billing_creditnote;
DROP FUNCTION IF EXISTS billing_refund_check();
DROP FUNCTION IF EXISTS billing_payment_check();
DROP FUNCTION IF EXISTS billing_creditnote_check();
DROP FUNCTION IF EXISTS billing_reject_change();
DROP TRIGGER IF EXISTS billing_invoiceline_guard ON billing_invoiceline;
DROP FUNCTION IF EXISTS billing_invoiceline_guard();
DROP TRIGGER IF EXISTS billing_invoice_guard ON billing_invoice;
DROP FUNCTION IF EXISTS billing_invoice_guard();
DROP FUNCTION IF EXISTS billing_invoice_due(bigint);
"""


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_prices_and_books")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
