-- arpilot AR warehouse, version 15: credit reviews. A review proposes, a person approves, and only an approved
-- change is written: with who approved it, when and why, and when it went to the ERP.

-- One review: its run, the day it reviewed, what started it (schedule | on demand | the event's name), and how it
-- ended: proposed (waiting) | approved (all or some lines) | rejected | timed_out (nobody answered: nothing changed)
-- | nothing_proposed (every customer keeps their limit) | not_decided (an answer without a name: nothing changed).
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
    sales_comment       TEXT,
    PRIMARY KEY (review_id, customer_id)
);

-- Every approved change of a customer's credit limit or hold, the history: the limit and hold before and after,
-- the review, who approved it, when and why. exported_on: the day it was written to the ERP's import file.
-- ledger_limit_cents and ledger_hold: what the ledger showed when it was approved; imported_on: the night the
-- ledger first showed the change (the ERP imported it). See customer_credit.
CREATE TABLE credit_limit_changes (
    change_id           VARCHAR(160) PRIMARY KEY,
    customer_id         VARCHAR(64)  NOT NULL,
    currency            VARCHAR(3)   NOT NULL,
    limit_before_cents  BIGINT,
    limit_after_cents   BIGINT,
    hold_before         BOOLEAN      NOT NULL,
    hold_after          BOOLEAN      NOT NULL,
    ledger_limit_cents  BIGINT,
    ledger_hold         BOOLEAN      NOT NULL,
    review_id           VARCHAR(64)  NOT NULL,
    approved_by         VARCHAR(128) NOT NULL,
    approved_at         TIMESTAMP    NOT NULL,
    why                 TEXT         NOT NULL,
    exported_on         DATE,
    imported_on         DATE
);
CREATE INDEX credit_limit_changes_customer ON credit_limit_changes (customer_id, approved_at);
CREATE INDEX credit_limit_changes_export ON credit_limit_changes (exported_on);

-- Each customer's credit limit and hold in force. arpilot's latest approved change is in force until the ERP has
-- imported it (imported_on), while the ledger still shows what it showed at the approval or the approved values; a
-- ledger that shows anything else was changed in the ERP since, and once imported the ERP's word is in force.
-- source says which: ledger | arpilot. A limit of NULL is no limit (-1 stands for it in the comparisons).
CREATE VIEW customer_credit AS
SELECT customer_id, ledger_limit_cents, ledger_hold, approved_limit_cents, approved_hold, approved_at, approved_by,
       CASE WHEN arpilot THEN 'arpilot' ELSE 'ledger' END AS source,
       CASE WHEN arpilot THEN approved_limit_cents ELSE ledger_limit_cents END AS credit_limit_cents,
       CASE WHEN arpilot THEN approved_hold ELSE ledger_hold END AS on_hold
FROM (SELECT c.customer_id, c.credit_limit_cents AS ledger_limit_cents, c.on_hold AS ledger_hold,
             l.limit_after_cents AS approved_limit_cents, l.hold_after AS approved_hold, l.approved_at, l.approved_by,
             (l.change_id IS NOT NULL AND l.imported_on IS NULL
              AND COALESCE(c.credit_limit_cents, -1) IN (COALESCE(l.ledger_limit_cents, -1),
                                                         COALESCE(l.limit_after_cents, -1))
              AND c.on_hold IN (l.ledger_hold, l.hold_after)) AS arpilot
      FROM customers c
      LEFT JOIN credit_limit_changes l ON l.customer_id = c.customer_id AND NOT EXISTS (
          SELECT 1 FROM credit_limit_changes n WHERE n.customer_id = l.customer_id
             AND (n.approved_at > l.approved_at OR (n.approved_at = l.approved_at AND n.change_id > l.change_id)))
     ) k;

-- A customer over their credit limit in force (open AR in the limit's currency above it), from the night it was
-- first seen until the night it was not: the collector and the sales rep are told once per breach.
CREATE TABLE credit_breaches (
    customer_id         VARCHAR(64)  NOT NULL,
    currency            VARCHAR(3)   NOT NULL,
    started_on          DATE         NOT NULL,
    limit_cents         BIGINT       NOT NULL,
    open_cents          BIGINT       NOT NULL,
    ended_on            DATE,
    PRIMARY KEY (customer_id, currency, started_on)
);

-- Events that start a customer's credit review early (limit exceeded, autopay failed for good, a large new
-- dispute), each emitted once: the key says what it is about.
CREATE TABLE credit_events (
    event_key           VARCHAR(200) PRIMARY KEY,
    event               VARCHAR(64)  NOT NULL,
    customer_id         VARCHAR(64)  NOT NULL,
    detail              TEXT         NOT NULL,
    emitted_at          TIMESTAMP    NOT NULL
);
