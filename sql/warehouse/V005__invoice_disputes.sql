-- arpilot AR warehouse, version 5: disputes as the syncs saw them, one row per dispute of an invoice.
-- The ledger only says "disputed" today; this keeps when a sync first saw it (opened_at, UTC) and when a sync
-- saw it end (closed_at: no longer disputed, paid, void or gone), so a dispute's age is known. An invoice
-- disputed again later gets a new row. Room to grow: owner, level, reason.
CREATE TABLE invoice_disputes (
    invoice_number      VARCHAR(64)  NOT NULL REFERENCES invoices (invoice_number),
    opened_at           TIMESTAMP    NOT NULL,
    closed_at           TIMESTAMP,
    PRIMARY KEY (invoice_number, opened_at)
);
CREATE INDEX invoice_disputes_open ON invoice_disputes (closed_at, invoice_number);
