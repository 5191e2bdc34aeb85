-- Reminders and calls recorded in the outbox between two days, by customer, channel and outcome.
SELECT customer_id, currency, channel, status, planned_on, reason
FROM dunning_outbox
WHERE planned_on BETWEEN :start AND :end
