-- arpilot AR warehouse, version 8: disputes as records people work, and the emails arpilot sends its own staff.

-- What the ledger says about a dispute, beside its flag: a reason code and the reason in words.
ALTER TABLE invoices ADD COLUMN dispute_code VARCHAR(32);
ALTER TABLE invoices ADD COLUMN dispute_reason TEXT;

-- A dispute: first seen (opened_at, UTC), where it came from (ledger | portal | phone | collector), why, how much,
-- whose it is, how far up it has gone (level 0: AR manager and sales rep; 1, 2...: the escalation policy's
-- levels), and how it ended: status open | credited (a credit note or a void) | rejected (the customer owes it
-- after all) | paid; closed_at is when it was resolved, resolved_by who decided (a person, or 'ledger').
-- flag_cleared_at: when the ledger's flag was seen cleared, so a dispute a person resolved while the ledger
-- still flags it is not opened again by the next sync. announced_at / outcome_announced_at: the
-- arpilot.invoice.disputed / dispute-resolved events went out (a dispute is announced once).
ALTER TABLE invoice_disputes ADD COLUMN dispute_id VARCHAR(128);
ALTER TABLE invoice_disputes ADD COLUMN source VARCHAR(16) NOT NULL DEFAULT 'ledger';
ALTER TABLE invoice_disputes ADD COLUMN reason_code VARCHAR(32);
ALTER TABLE invoice_disputes ADD COLUMN reason_text TEXT;
ALTER TABLE invoice_disputes ADD COLUMN currency VARCHAR(3);
ALTER TABLE invoice_disputes ADD COLUMN amount_cents BIGINT;
ALTER TABLE invoice_disputes ADD COLUMN owner VARCHAR(128);
ALTER TABLE invoice_disputes ADD COLUMN level INTEGER NOT NULL DEFAULT 0;
ALTER TABLE invoice_disputes ADD COLUMN level_raised_at TIMESTAMP;
ALTER TABLE invoice_disputes ADD COLUMN status VARCHAR(16) NOT NULL DEFAULT 'open';
ALTER TABLE invoice_disputes ADD COLUMN resolved_by VARCHAR(128);
ALTER TABLE invoice_disputes ADD COLUMN note TEXT;
ALTER TABLE invoice_disputes ADD COLUMN flag_cleared_at TIMESTAMP;
ALTER TABLE invoice_disputes ADD COLUMN announced_at TIMESTAMP;
ALTER TABLE invoice_disputes ADD COLUMN outcome_announced_at TIMESTAMP;

-- Disputes recorded before this version: announced already (no burst of emails about old disputes on upgrade;
-- the daily escalation check still raises them), and resolved as their invoice now says.
UPDATE invoice_disputes SET
    dispute_id = invoice_number || '@' || CAST(opened_at AS VARCHAR(32)),
    currency = (SELECT i.currency FROM invoices i WHERE i.invoice_number = invoice_disputes.invoice_number),
    amount_cents = (SELECT i.open_cents FROM invoices i WHERE i.invoice_number = invoice_disputes.invoice_number),
    owner = (SELECT c.collector FROM invoices i JOIN customers c ON c.customer_id = i.customer_id
             WHERE i.invoice_number = invoice_disputes.invoice_number),
    announced_at = opened_at,
    outcome_announced_at = closed_at,
    flag_cleared_at = closed_at,
    resolved_by = CASE WHEN closed_at IS NULL THEN NULL ELSE 'ledger' END,
    status = CASE WHEN closed_at IS NULL THEN 'open' ELSE COALESCE(
        (SELECT CASE i.status WHEN 'paid' THEN 'paid' WHEN 'open' THEN 'rejected' ELSE 'credited' END
         FROM invoices i WHERE i.invoice_number = invoice_disputes.invoice_number), 'credited') END;
CREATE UNIQUE INDEX invoice_disputes_id ON invoice_disputes (dispute_id);
CREATE INDEX invoice_disputes_status ON invoice_disputes (status, opened_at);

-- Emails to arpilot's own staff (AR manager, sales reps, collectors, controller, CFO) about an account: a new
-- dispute, an escalation, a broken promise, a final notice coming. Exactly once like a reminder: the row is
-- reserved under a key that says what the email is about before the relay is called.
-- status: reserved | sending | sent | failed | owed | unknown, as in dunning_outbox.
CREATE TABLE staff_notices (
    notice_key          VARCHAR(255) PRIMARY KEY,
    kind                VARCHAR(32)  NOT NULL,
    customer_id         VARCHAR(64),
    recipients          TEXT         NOT NULL,
    subject             TEXT,
    status              VARCHAR(16)  NOT NULL,
    attempts            INTEGER      NOT NULL DEFAULT 0,
    provider_id         VARCHAR(128),
    reason              TEXT,
    run_id              VARCHAR(64)  NOT NULL,
    owner               VARCHAR(128) NOT NULL,
    lease_until         TIMESTAMP    NOT NULL,
    reserved_at         TIMESTAMP    NOT NULL,
    completed_at        TIMESTAMP
);
CREATE INDEX staff_notices_kind ON staff_notices (kind, status);

-- What a collector must look at that is not a reminder: a dispute on their account, and (later) a voicemail or a
-- customer's text. item_key says what the item is about (e.g. 'dispute|INV-1@2026-11-02 03:00:00'), so an item
-- is listed once; done_at is set when it is dealt with (the dispute resolved).
CREATE TABLE collector_worklist (
    item_key            VARCHAR(255) PRIMARY KEY,
    collector           VARCHAR(128),
    customer_id         VARCHAR(64)  NOT NULL,
    kind                VARCHAR(32)  NOT NULL,
    detail              TEXT         NOT NULL,
    created_at          TIMESTAMP    NOT NULL,
    done_at             TIMESTAMP
);
CREATE INDEX collector_worklist_open ON collector_worklist (done_at, collector);

-- Whether dunning must hold each invoice for a dispute: an open dispute record, or the ledger's flag unless a
-- person resolved that dispute while the ledger still flags it (the ERP is updated later). Defined once here,
-- read by the dunning plan and by the check just before a reminder goes out.
CREATE VIEW invoice_dispute_holds AS
SELECT i.invoice_number,
       CASE WHEN EXISTS (SELECT 1 FROM invoice_disputes d WHERE d.invoice_number = i.invoice_number
                         AND d.closed_at IS NULL)
              OR (i.disputed AND NOT EXISTS (SELECT 1 FROM invoice_disputes d WHERE d.invoice_number = i.invoice_number
                                             AND d.source = 'ledger' AND d.closed_at IS NOT NULL
                                             AND d.flag_cleared_at IS NULL))
            THEN 1 ELSE 0 END AS disputed
FROM invoices i;
