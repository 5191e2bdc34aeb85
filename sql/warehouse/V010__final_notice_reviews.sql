-- arpilot AR warehouse, version 10: the sales rep's say before an account's final notice.

-- One row per account (customer and currency) and final step about to be reached: step is the final step's
-- offset, final_on the day the account's oldest invoice not held back reaches it. asked_at (UTC): when the
-- rep (sales_rep as in the ledger; NULL when the customer has none) was asked. decision: proceed | hold |
-- soften, NULL while nobody answered (silence means proceed); decided_by and reason say who chose it and why,
-- decided_at (UTC) when. hold_until: the last day a hold keeps reminders back (the decision's day plus the
-- escalation policy's sales_hold_days). A later answer overwrites an earlier one, with its own who and why.
CREATE TABLE final_notice_reviews (
    customer_id         VARCHAR(64)  NOT NULL REFERENCES customers (customer_id),
    currency            VARCHAR(3)   NOT NULL,
    step                INTEGER      NOT NULL,
    final_on            DATE         NOT NULL,
    sales_rep           VARCHAR(128),
    asked_at            TIMESTAMP    NOT NULL,
    decision            VARCHAR(16),
    decided_by          VARCHAR(128),
    reason              TEXT,
    decided_at          TIMESTAMP,
    hold_until          DATE,
    PRIMARY KEY (customer_id, currency, step, final_on)
);
CREATE INDEX final_notice_reviews_asked ON final_notice_reviews (sales_rep, asked_at);
