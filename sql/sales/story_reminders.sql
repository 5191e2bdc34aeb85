-- The reminders those accounts were sent so far (sent, or handed to the relay with the outcome unknown).
SELECT DISTINCT o.customer_id, o.currency, o.planned_on, o.step, o.channel, o.invoices
FROM dunning_outbox o
JOIN final_notice_reviews r ON r.customer_id = o.customer_id AND r.currency = o.currency
WHERE r.decision IS NULL AND r.final_on > :today AND o.status IN ('sent', 'unknown')
ORDER BY o.customer_id, o.currency, o.planned_on, o.step, o.channel
