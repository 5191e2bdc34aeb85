-- arpilot AR warehouse, version 12: the customer's phone. Twilio's webhooks (two-way SMS, delivery status and
-- later the IVR) are believed once each, and every text a customer sends is kept with what arpilot did with it.

-- Every Twilio webhook request accepted, by a SHA-256 digest of its path, query and signed parameters. A request
-- whose digest is here already is a replay and is refused (Twilio signs no timestamp, so an intercepted request
-- stays valid forever; its digest is the only way to know it again). Digests older than the replay window are
-- forgotten; by then every request has been handled under a key of its own (MessageSid, CallSid) as well.
CREATE TABLE twilio_webhook_requests (
    digest              VARCHAR(64)  PRIMARY KEY,
    path                VARCHAR(255) NOT NULL,
    sid                 VARCHAR(64),
    seen_at             TIMESTAMP    NOT NULL
);
CREATE INDEX twilio_webhook_requests_seen ON twilio_webhook_requests (seen_at);

-- Every text a customer sent: who (E.164, as Twilio gave it), what, the command it was read as
-- (stop | start | help | balance | paid | promise | other), the customers whose AP contact has that number
-- (comma-separated; empty for an unknown number), and what arpilot did (outcome, in words for the collector).
CREATE TABLE sms_inbound (
    message_sid         VARCHAR(64)  PRIMARY KEY,
    from_number         VARCHAR(32)  NOT NULL,
    to_number           VARCHAR(32),
    body                TEXT         NOT NULL,
    command             VARCHAR(16)  NOT NULL,
    customer_ids        TEXT         NOT NULL,
    outcome             TEXT         NOT NULL,
    received_at         TIMESTAMP    NOT NULL
);
CREATE INDEX sms_inbound_from ON sms_inbound (from_number, received_at);

-- What the carrier said after Twilio accepted a message or call (Twilio's status callback). status stays as the
-- send left it (sent: Twilio has it, and it is never sent again); delivery_status is the carrier's word
-- (sent | delivered | undelivered | failed | read for SMS; completed | busy | no-answer | failed | canceled for
-- calls), and reason gets the carrier's error code when there is one.
ALTER TABLE dunning_outbox ADD COLUMN delivery_status VARCHAR(16);
ALTER TABLE dunning_outbox ADD COLUMN delivery_updated_at TIMESTAMP;

-- Texts and calls the carrier could not deliver to a number, by the provider's id: the phone's counterpart of an
-- email's hard bounce, for the contact checks (the ledger's contacts.bounced_on is the ERP's and is overwritten
-- by every sync, so arpilot keeps its own). address is E.164.
CREATE TABLE phone_delivery_failures (
    provider_id         VARCHAR(64)  PRIMARY KEY,
    channel             VARCHAR(16)  NOT NULL,
    address             VARCHAR(32)  NOT NULL,
    error_code          VARCHAR(16),
    outbox_key          VARCHAR(255),
    failed_at           TIMESTAMP    NOT NULL
);
CREATE INDEX phone_delivery_failures_address ON phone_delivery_failures (address, failed_at);

-- Every webhook finds the caller's or texter's customers by number, and every status callback its outbox row by
-- the provider's id, inside the request's write transaction: indexed, so one request holds the warehouse for
-- milliseconds, not for a scan of every contact.
CREATE INDEX contacts_phone ON contacts (phone);
CREATE INDEX contact_profiles_phone ON contact_profiles (phone_e164);
CREATE INDEX dunning_outbox_provider ON dunning_outbox (provider_id);
