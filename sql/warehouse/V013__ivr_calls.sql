-- arpilot AR warehouse, version 13: the IVR. Every call a customer makes to the AR desk's number is logged with
-- who called and what they asked; texts and emails the call sent are kept once per call; voicemails for the
-- collector are kept with their transcript.

-- One row per call: the caller's number as Twilio gave it (E.164), the customer once identified (by caller ID, by
-- choice among the customers sharing the number, or by the account number keyed in; NULL while unknown), and the
-- language the call is held in.
CREATE TABLE ivr_calls (
    call_sid            VARCHAR(64)  PRIMARY KEY,
    from_number         VARCHAR(32)  NOT NULL,
    to_number           VARCHAR(32),
    customer_id         VARCHAR(64),
    language            VARCHAR(8)   NOT NULL,
    started_at          TIMESTAMP    NOT NULL
);
CREATE INDEX ivr_calls_customer ON ivr_calls (customer_id, started_at);

-- One row per answer the caller gave, by the call's turn number (each prompt's action URL carries it): what was
-- chosen (menu, keys) and what arpilot did (outcome, in words for the collector).
CREATE TABLE ivr_call_steps (
    call_sid            VARCHAR(64)  NOT NULL,
    turn                INTEGER      NOT NULL,
    choice              VARCHAR(64)  NOT NULL,
    outcome             TEXT         NOT NULL,
    asked_at            TIMESTAMP    NOT NULL,
    PRIMARY KEY (call_sid, turn)
);

-- A pay link texted or a statement emailed because a caller asked: at most one of each per call (channel sms or
-- email), reserved before it is sent, so a keypress Twilio delivers again never sends twice.
CREATE TABLE ivr_sends (
    call_sid            VARCHAR(64)  NOT NULL,
    channel             VARCHAR(16)  NOT NULL,
    customer_id         VARCHAR(64)  NOT NULL,
    address             TEXT         NOT NULL,
    provider_id         VARCHAR(64),
    sent_at             TIMESTAMP    NOT NULL,
    PRIMARY KEY (call_sid, channel)
);

-- Voicemails left for a collector outside their hours: Twilio's recording (URL, seconds) and, when Twilio's
-- transcription callback arrives, its text. Each is also an item on the collector's worklist.
CREATE TABLE ivr_voicemails (
    recording_sid       VARCHAR(64)  PRIMARY KEY,
    call_sid            VARCHAR(64)  NOT NULL,
    customer_id         VARCHAR(64)  NOT NULL,
    collector           VARCHAR(128),
    recording_url       TEXT         NOT NULL,
    duration_seconds    INTEGER,
    transcript          TEXT,
    recorded_at         TIMESTAMP    NOT NULL,
    transcribed_at      TIMESTAMP
);
CREATE INDEX ivr_voicemails_call ON ivr_voicemails (call_sid);
