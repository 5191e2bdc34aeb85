-- arpilot AR warehouse, version 6: taking money. Mandates say whom arpilot may charge; the charges table is the
-- authority on what was asked of the payment gateway, reserved before any call so that money moves once.

-- A customer's standing permission to charge one payment method in one currency (one mandate per currency).
-- Only the gateway's ids and the last four digits are kept: card and bank details never reach arpilot.
-- source: ledger | portal | cli. status: active | revoked (kept, for the history).
CREATE TABLE autopay_mandates (
    customer_id         VARCHAR(64)  NOT NULL REFERENCES customers (customer_id),
    currency            VARCHAR(3)   NOT NULL,
    gateway_customer    VARCHAR(64)  NOT NULL,
    payment_method      VARCHAR(64)  NOT NULL,
    method_type         VARCHAR(24)  NOT NULL,
    last4               VARCHAR(4),
    mandate_reference   VARCHAR(128),
    accepted_at         TIMESTAMP    NOT NULL,
    max_charge_cents    BIGINT       NOT NULL,
    status              VARCHAR(16)  NOT NULL,
    source              VARCHAR(16)  NOT NULL,
    revoked_at          TIMESTAMP,
    updated_at          TIMESTAMP    NOT NULL,
    PRIMARY KEY (customer_id, currency)
);

-- One charge per customer, currency and charge day. charge_key: customer|currency|charge_day, sent to the gateway
-- as the Idempotency-Key and in the PaymentIntent's metadata, so a rerun, a retry or a concurrent run finds the row
-- (or, after a crash, the intent) and never charges twice.
-- status: reserved (claimed, nothing asked yet) | submitted (the request may have reached the gateway: look the
--         intent up before asking again) | processing (bank debits take days) | succeeded | failed | requires_action
-- attempt: 1 for the due date's charge, n for the (n-1)-th retry after a soft decline (retry_on says when).
-- failure_kind: soft (retried) | hard (never retried); failure_code/reason: the gateway's words.
CREATE TABLE charges (
    charge_key          VARCHAR(160) PRIMARY KEY,
    customer_id         VARCHAR(64)  NOT NULL,
    currency            VARCHAR(3)   NOT NULL,
    charge_day          DATE         NOT NULL,
    attempt             INTEGER      NOT NULL,
    amount_cents        BIGINT       NOT NULL,
    gateway_customer    VARCHAR(64)  NOT NULL,
    payment_method      VARCHAR(64)  NOT NULL,
    method_type         VARCHAR(24)  NOT NULL,
    status              VARCHAR(16)  NOT NULL,
    intent_id           VARCHAR(64),
    failure_kind        VARCHAR(8),
    failure_code        VARCHAR(64),
    failure_reason      TEXT,
    retry_on            DATE,
    payment_id          VARCHAR(64),
    run_id              VARCHAR(64)  NOT NULL,
    owner               VARCHAR(128) NOT NULL,
    reserved_at         TIMESTAMP    NOT NULL,
    updated_at          TIMESTAMP    NOT NULL
);
CREATE INDEX charges_status ON charges (status);
CREATE INDEX charges_customer ON charges (customer_id, currency, charge_day);

-- What each charge covers: the invoices and the part of each.
CREATE TABLE charge_invoices (
    charge_key          VARCHAR(160) NOT NULL,
    invoice_number      VARCHAR(64)  NOT NULL,
    amount_cents        BIGINT       NOT NULL,
    PRIMARY KEY (charge_key, invoice_number)
);
CREATE INDEX charge_invoices_invoice ON charge_invoices (invoice_number);

-- Money arpilot took through the gateway (autopay charges and portal payments), written to payments and
-- allocations at once and exported for the ERP. payment_id is what the ERP must keep as its own payment id, so
-- that when the ledger sync brings the payment back it updates this row instead of adding a second.
CREATE TABLE gateway_payments (
    payment_id          VARCHAR(64)  PRIMARY KEY,
    source              VARCHAR(16)  NOT NULL,
    intent_id           VARCHAR(64)  NOT NULL UNIQUE,
    customer_id         VARCHAR(64)  NOT NULL,
    currency            VARCHAR(3)   NOT NULL,
    received_on         DATE         NOT NULL,
    amount_cents        BIGINT       NOT NULL,
    method_type         VARCHAR(24)  NOT NULL,
    last4               VARCHAR(4),
    recorded_at         TIMESTAMP    NOT NULL,
    written_back_at     TIMESTAMP
);
CREATE INDEX gateway_payments_received ON gateway_payments (received_on);
