-- arpilot AR warehouse, version 14: collectors' calls. A collector starts a call from the call list; Twilio rings
-- the collector, then bridges the customer's AP contact, recorded after a consent announcement and transcribed.
-- The call, its recording, transcript and outcome are on the customer's history.

-- One row per call a collector started, reserved before Twilio is asked to ring (call_id is deterministic: the
-- collector, the customer, the number and how many of the collector's calls to that number ended before, so a
-- double click rings once). status is Twilio's word on the collector's leg (reserved until Twilio has it), and
-- dial_status how the customer's leg ended (completed, busy, no-answer, failed, canceled). number is the AP
-- contact's E.164 number as dialled. outcome is what the collector keyed or set afterwards: reached | promise |
-- dispute | wrong_number. transcript holds one line per utterance, the speaker first.
CREATE TABLE collector_calls (
    call_id             VARCHAR(64)  PRIMARY KEY,
    collector           VARCHAR(128) NOT NULL,
    collector_line      VARCHAR(32)  NOT NULL,
    customer_id         VARCHAR(64)  NOT NULL,
    contact_id          VARCHAR(64)  NOT NULL,
    number              VARCHAR(32)  NOT NULL,
    call_sid            VARCHAR(64),
    started_at          TIMESTAMP    NOT NULL,
    status              VARCHAR(16)  NOT NULL,
    status_at           TIMESTAMP,
    dial_status         VARCHAR(16),
    recording_sid       VARCHAR(64),
    recording_url       TEXT,
    recording_seconds   INTEGER,
    transcript          TEXT,
    outcome             VARCHAR(16),
    outcome_by          VARCHAR(128),
    outcome_at          TIMESTAMP,
    note                TEXT
);
CREATE INDEX collector_calls_customer ON collector_calls (customer_id, started_at);
CREATE INDEX collector_calls_number ON collector_calls (number, outcome);

-- Every sign that a number does not reach its contact, for the contact checks (the phone's counterpart of an email's
-- hard bounce): a text or call the carrier could not deliver, and a collector's call that reached a wrong number.
-- what says which, in words for the collectors' cleanup worklist.
CREATE VIEW phone_reach_failures AS
SELECT address, failed_at,
       CASE WHEN channel = 'sms' THEN 'a text' ELSE 'a call' END || ' to it was not delivered'
           || COALESCE(' (carrier error ' || error_code || ')', '') AS what
FROM phone_delivery_failures
UNION ALL
SELECT number AS address, outcome_at AS failed_at, 'a call by ' || outcome_by || ' reached a wrong number' AS what
FROM collector_calls
WHERE outcome = 'wrong_number';
