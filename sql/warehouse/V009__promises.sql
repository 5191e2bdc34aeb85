-- arpilot AR warehouse, version 9: promises to pay as records. A promise holds dunning for its customer and
-- currency until its date plus a grace; then it is kept (the customer paid the amount) or broken, and each
-- outcome is announced once (a thank-you; or a firm email, a call task, an event and, for a repeat, the sales rep).

-- promise_id: 'ledger|<customer>|<currency>|<date>' for a promise the ledger's invoices carry, '<source>-<random>'
-- for one recorded through the record-promise flow or the CLI.
-- source: ledger | portal | sms | phone | collector; taken_by: who took it (a person, or 'ledger').
-- recorded_on: the company date it was recorded (payments from that day on count towards it); recorded_at: the
-- instant, UTC.
-- hold_until: promised_for plus the escalation policy's grace, renewed by every review (dunning holds through it).
-- status: open | kept | broken | cancelled; resolved_on: the company date the outcome was decided;
-- paid_cents: what the customer paid towards it (counted at resolution).
-- announced_at: when the outcome was announced (the arpilot.promise.broken event, the notices planned), once.
CREATE TABLE promises (
    promise_id          VARCHAR(160) PRIMARY KEY,
    customer_id         VARCHAR(64)  NOT NULL,
    currency            VARCHAR(3)   NOT NULL,
    amount_cents        BIGINT       NOT NULL,
    promised_for        DATE         NOT NULL,
    hold_until          DATE         NOT NULL,
    source              VARCHAR(16)  NOT NULL,
    taken_by            VARCHAR(128) NOT NULL,
    recorded_on         DATE         NOT NULL,
    recorded_at         TIMESTAMP    NOT NULL,
    status              VARCHAR(16)  NOT NULL DEFAULT 'open',
    resolved_on         DATE,
    paid_cents          BIGINT,
    note                TEXT,
    announced_at        TIMESTAMP
);
CREATE INDEX promises_customer ON promises (customer_id, currency, status);
CREATE INDEX promises_status ON promises (status, promised_for);

-- The invoices a promise covered when it was recorded, with what was open on each then.
CREATE TABLE promise_invoices (
    promise_id          VARCHAR(160) NOT NULL,
    invoice_number      VARCHAR(64)  NOT NULL,
    open_cents          BIGINT       NOT NULL,
    PRIMARY KEY (promise_id, invoice_number)
);
