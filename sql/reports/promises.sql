-- Promises to pay as records: what was promised, in which currency, for when, who took it, the company day it
-- was recorded, and how it ended (open, kept, broken, cancelled) on which company day.
SELECT p.promise_id, p.customer_id, p.currency, p.amount_cents, p.promised_for, p.taken_by, p.recorded_on,
       p.status, p.resolved_on
FROM promises p
