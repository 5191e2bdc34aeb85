-- arpilot AR warehouse, version 15: credit reviews. A review proposes, a person approves, and only an approved
-- change is written: with who approved it, when and why, and when it went to the ERP.

-- One review: its run, the day it reviewed, what started it (schedule | on demand | the event's name), and how it
-- ended: proposed (waiting) | approved (all or some lines) | rejected | timed_out (nobody answered: nothing changed).
CREATE TABLE credit_reviews (
    review_id           VARCHAR(64)  PRIMARY KEY,
    reviewed_on         DATE         NOT NULL,
    started_by          VARCHAR(64)  NOT NULL,
    status              VARCHAR(16)  NOT NULL,
    decided_by          VARCHAR(128),
    decided_at          TIMESTAMP,
    comment             TEXT
);

-- What the review proposed per customer (the scorecard's score, recommendation and reasons, in words) and what was
-- decided: pending | approved (as proposed) | overridden (another limit or hold, with why) | rejected.
CREATE TABLE credit_proposals (
    review_id           VARCHAR(64)  NOT NULL,
    customer_id         VARCHAR(64)  NOT NULL,
    currency            VARCHAR(3)   NOT NULL,
    score               INTEGER      NOT NULL,
    recommendation      VARCHAR(16)  NOT NULL,
    limit_cents         BIGINT,
    proposed_limit_cents BIGINT,
    reasons             TEXT         NOT NULL,
    decision            VARCHAR(16)  NOT NULL DEFAULT 'pending',
    approved_limit_cents BIGINT,
    approved_hold       BOOLEAN,
    why                 TEXT,
    PRIMARY KEY (review_id, customer_id)
);

-- Every approved change of a customer's credit limit or hold, the history: the limit and hold before and after,
-- the review, who approved it, when and why. exported_on: the day it was written to the ERP's import file.
CREATE TABLE credit_limit_changes (
    change_id           VARCHAR(160) PRIMARY KEY,
    customer_id         VARCHAR(64)  NOT NULL,
    currency            VARCHAR(3)   NOT NULL,
    limit_before_cents  BIGINT,
    limit_after_cents   BIGINT,
    hold_before         BOOLEAN      NOT NULL,
    hold_after          BOOLEAN      NOT NULL,
    review_id           VARCHAR(64)  NOT NULL,
    approved_by         VARCHAR(128) NOT NULL,
    approved_at         TIMESTAMP    NOT NULL,
    why                 TEXT         NOT NULL,
    exported_on         DATE
);
CREATE INDEX credit_limit_changes_customer ON credit_limit_changes (customer_id, approved_at);
CREATE INDEX credit_limit_changes_export ON credit_limit_changes (exported_on);
