-- arpilot AR warehouse, version 1.
-- Portable SQL for SQLite and PostgreSQL. Money is integer cents (hundredths of the currency unit,
-- for every currency); a currency column always sits beside it. Dates are ISO dates.
-- row_hash fingerprints the synced business fields so an unchanged source row is never rewritten.

CREATE TABLE customers (
    customer_id         VARCHAR(64)  PRIMARY KEY,
    name                VARCHAR(255) NOT NULL,
    country             VARCHAR(2),
    city                VARCHAR(128),
    time_zone           VARCHAR(64),
    currency            VARCHAR(3),
    terms_days          INTEGER,
    credit_limit_cents  BIGINT,
    collector           VARCHAR(128),
    sales_rep           VARCHAR(128),
    autopay             BOOLEAN      NOT NULL DEFAULT FALSE,
    on_hold             BOOLEAN      NOT NULL DEFAULT FALSE,
    paused_until        DATE,
    dunning_stopped     BOOLEAN      NOT NULL DEFAULT FALSE,
    internal            BOOLEAN      NOT NULL DEFAULT FALSE,
    row_hash            BIGINT       NOT NULL,
    synced_at           TIMESTAMP    NOT NULL
);

CREATE TABLE contacts (
    contact_id          VARCHAR(64)  PRIMARY KEY,
    customer_id         VARCHAR(64)  NOT NULL REFERENCES customers (customer_id),
    role                VARCHAR(64),
    name                VARCHAR(255),
    email               VARCHAR(320),
    phone               VARCHAR(64),
    time_zone           VARCHAR(64),
    verified_on         DATE,
    bounced_on          DATE,
    opt_out_email       BOOLEAN      NOT NULL DEFAULT FALSE,
    opt_out_sms         BOOLEAN      NOT NULL DEFAULT FALSE,
    opt_out_voice       BOOLEAN      NOT NULL DEFAULT FALSE,
    row_hash            BIGINT       NOT NULL,
    synced_at           TIMESTAMP    NOT NULL
);
CREATE INDEX contacts_customer ON contacts (customer_id);

-- status: open | paid | void (from the ledger) | deleted (gone from the ledger; kept for history)
CREATE TABLE invoices (
    invoice_number      VARCHAR(64)  PRIMARY KEY,
    customer_id         VARCHAR(64)  NOT NULL REFERENCES customers (customer_id),
    issue_date          DATE         NOT NULL,
    due_date            DATE         NOT NULL,
    currency            VARCHAR(3)   NOT NULL,
    amount_cents        BIGINT       NOT NULL,
    open_cents          BIGINT       NOT NULL,
    status              VARCHAR(16)  NOT NULL,
    disputed            BOOLEAN      NOT NULL DEFAULT FALSE,
    promise_to_pay_date DATE,
    settled_date        DATE,
    row_hash            BIGINT       NOT NULL,
    synced_at           TIMESTAMP    NOT NULL
);
CREATE INDEX invoices_customer ON invoices (customer_id);
CREATE INDEX invoices_status_due ON invoices (status, due_date);

CREATE TABLE payments (
    payment_id          VARCHAR(64)  PRIMARY KEY,
    customer_id         VARCHAR(64)  NOT NULL REFERENCES customers (customer_id),
    received_on         DATE         NOT NULL,
    currency            VARCHAR(3)   NOT NULL,
    amount_cents        BIGINT       NOT NULL,
    method              VARCHAR(32),
    row_hash            BIGINT       NOT NULL,
    synced_at           TIMESTAMP    NOT NULL
);
CREATE INDEX payments_customer ON payments (customer_id);

CREATE TABLE credit_notes (
    credit_note_id      VARCHAR(64)  PRIMARY KEY,
    customer_id         VARCHAR(64)  NOT NULL REFERENCES customers (customer_id),
    issue_date          DATE         NOT NULL,
    currency            VARCHAR(3)   NOT NULL,
    amount_cents        BIGINT       NOT NULL,
    reason              VARCHAR(255),
    row_hash            BIGINT       NOT NULL,
    synced_at           TIMESTAMP    NOT NULL
);
CREATE INDEX credit_notes_customer ON credit_notes (customer_id);

-- How much of a payment or credit note settles which invoice.
-- document_kind: payment | credit_note; document_id is its payment_id or credit_note_id.
CREATE TABLE allocations (
    allocation_id       VARCHAR(64)  PRIMARY KEY,
    document_kind       VARCHAR(16)  NOT NULL,
    document_id         VARCHAR(64)  NOT NULL,
    invoice_number      VARCHAR(64)  NOT NULL REFERENCES invoices (invoice_number),
    amount_cents        BIGINT       NOT NULL,
    row_hash            BIGINT       NOT NULL,
    synced_at           TIMESTAMP    NOT NULL
);
CREATE INDEX allocations_invoice ON allocations (invoice_number);

-- Where each ledger source's incremental sync got to, per entity.
-- watermark: the newest source change seen (SQL sources); fingerprint: the file's SHA-256 (file exports).
CREATE TABLE sync_state (
    source              VARCHAR(128) NOT NULL,
    entity              VARCHAR(32)  NOT NULL,
    watermark           VARCHAR(64),
    fingerprint         VARCHAR(64),
    run_id              VARCHAR(64),
    synced_at           TIMESTAMP    NOT NULL,
    PRIMARY KEY (source, entity)
);

-- Ledger rows that failed validation, with the reason and the raw row, per run.
-- awaits_reference: refused only because a row it names (an invoice, a customer) is not in the warehouse
-- yet; the next sync reads it again by row_key, so it loads once that row arrives.
CREATE TABLE quarantine (
    run_id              VARCHAR(64)  NOT NULL,
    source              VARCHAR(128) NOT NULL,
    entity              VARCHAR(32)  NOT NULL,
    seq                 INTEGER      NOT NULL,
    row_ref             VARCHAR(255) NOT NULL,
    row_key             VARCHAR(255),
    reason              TEXT         NOT NULL,
    awaits_reference    BOOLEAN      NOT NULL DEFAULT FALSE,
    raw_row             TEXT         NOT NULL,
    quarantined_at      TIMESTAMP    NOT NULL,
    PRIMARY KEY (run_id, entity, seq)
);
