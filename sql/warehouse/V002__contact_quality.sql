-- arpilot AR warehouse, version 2: AP contact quality.

-- Each contact normalised once per change: canonical email, E.164 phone, the time zone its local hour is
-- judged in (and where that came from). The contact's row_hash and its customer's country and time zone
-- (and the company's zone, the last fallback) record what it was computed from; when one changes, the
-- contact is normalised again.
CREATE TABLE contact_profiles (
    contact_id          VARCHAR(64)  PRIMARY KEY,
    customer_id         VARCHAR(64)  NOT NULL,
    contact_row_hash    BIGINT       NOT NULL,
    customer_country    VARCHAR(2),
    customer_time_zone  VARCHAR(64),
    company_time_zone   VARCHAR(64)  NOT NULL,
    email               VARCHAR(320),
    email_problem       TEXT,
    email_fix           TEXT,
    phone_e164          VARCHAR(20),
    phone_extension     VARCHAR(16),
    phone_line_type     VARCHAR(24),
    phone_problem       TEXT,
    phone_fix           TEXT,
    time_zone           VARCHAR(64)  NOT NULL,
    time_zone_source    VARCHAR(16)  NOT NULL,
    time_zone_ambiguous BOOLEAN      NOT NULL,
    normalized_at       TIMESTAMP    NOT NULL
);

-- Pass-rate history: per contact-check run and check, how many roster rows it evaluated and how many failed.
-- gates: the channels the check gated in that run (comma-separated; empty: reported only).
CREATE TABLE contact_check_runs (
    run_id              VARCHAR(64)  NOT NULL,
    checked_on          DATE         NOT NULL,
    check_name          VARCHAR(64)  NOT NULL,
    gates               VARCHAR(32)  NOT NULL,
    evaluated           INTEGER      NOT NULL,
    failed              INTEGER      NOT NULL,
    checked_at          TIMESTAMP    NOT NULL,
    PRIMARY KEY (run_id, check_name)
);

-- Every failed check per contact per run; a roster contact absent here passed every check that run.
-- contact_id is NULL for a customer with an open balance and no contact at all.
CREATE TABLE contact_check_failures (
    run_id              VARCHAR(64)  NOT NULL,
    seq                 INTEGER      NOT NULL,
    checked_on          DATE         NOT NULL,
    customer_id         VARCHAR(64)  NOT NULL,
    contact_id          VARCHAR(64),
    check_name          VARCHAR(64)  NOT NULL,
    problem             TEXT         NOT NULL,
    fix                 TEXT         NOT NULL,
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX contact_check_failures_contact ON contact_check_failures (contact_id);

-- The gate's current verdict for every contact arpilot would write to: may automated sends use it, per
-- channel? A customer with no usable contact on a channel goes to its collector's manual list instead.
CREATE TABLE contact_gate (
    contact_id          VARCHAR(64)  PRIMARY KEY,
    customer_id         VARCHAR(64)  NOT NULL,
    email_ok            BOOLEAN      NOT NULL,
    sms_ok              BOOLEAN      NOT NULL,
    voice_ok            BOOLEAN      NOT NULL,
    run_id              VARCHAR(64)  NOT NULL,
    decided_on          DATE         NOT NULL
);
CREATE INDEX contact_gate_customer ON contact_gate (customer_id);
