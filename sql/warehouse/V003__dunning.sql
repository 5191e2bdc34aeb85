-- arpilot AR warehouse, version 3: dunning. The outbox is the authority on what was sent to whom.

-- One row per outbound action, reserved before any outside call.
-- outbox_key: customer|currency|step|planned_on|channel, so a rerun, a retry or a concurrent run finds the row
-- and never sends twice.
-- status: reserved (claimed, nothing handed to the provider yet) | sending (handed over: an email whose DATA is
--         about to end, an SMS or call request under way) | sent | failed (permanent, with the provider's reason)
--         | unknown (the run died after handing an email over and a relay cannot be asked; counted as sent)
-- owner: host:pid:start of the process holding a reserved/sending row; a dead owner's rows are reconciled.
CREATE TABLE dunning_outbox (
    outbox_key          VARCHAR(255) PRIMARY KEY,
    customer_id         VARCHAR(64)  NOT NULL,
    currency            VARCHAR(3)   NOT NULL,
    step                INTEGER      NOT NULL,
    channel             VARCHAR(16)  NOT NULL,
    planned_on          DATE         NOT NULL,
    bucket              VARCHAR(16)  NOT NULL,
    amount_cents        BIGINT       NOT NULL,
    invoices            INTEGER      NOT NULL,
    recipients          TEXT,
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
CREATE INDEX dunning_outbox_customer ON dunning_outbox (customer_id, channel, planned_on);
CREATE INDEX dunning_outbox_status ON dunning_outbox (status);

-- Which invoices each message covered, at which step: an invoice is reminded of a step once.
CREATE TABLE dunning_outbox_invoices (
    outbox_key          VARCHAR(255) NOT NULL,
    invoice_number      VARCHAR(64)  NOT NULL,
    step                INTEGER      NOT NULL,
    PRIMARY KEY (outbox_key, invoice_number)
);
CREATE INDEX dunning_outbox_invoices_invoice ON dunning_outbox_invoices (invoice_number);

-- Every message the plan held back, with its reason, per run.
CREATE TABLE dunning_skips (
    run_id              VARCHAR(64)  NOT NULL,
    planned_on          DATE         NOT NULL,
    customer_id         VARCHAR(64)  NOT NULL,
    currency            VARCHAR(3)   NOT NULL,
    step                INTEGER      NOT NULL,
    channel             VARCHAR(16)  NOT NULL,
    bucket              VARCHAR(16)  NOT NULL,
    reason              VARCHAR(64)  NOT NULL,
    detail              TEXT
);
CREATE INDEX dunning_skips_run ON dunning_skips (run_id);

-- Opt-outs learnt from a provider (e.g. Twilio error 21610: the recipient replied STOP), kept apart from the
-- ledger's flags so the next sync cannot undo them. address: E.164 phone or normalised email.
CREATE TABLE channel_opt_outs (
    channel             VARCHAR(16)  NOT NULL,
    address             VARCHAR(320) NOT NULL,
    reason              TEXT         NOT NULL,
    recorded_at         TIMESTAMP    NOT NULL,
    PRIMARY KEY (channel, address)
);
