-- The day's portal payments, for the controller's artifact.
SELECT g.payment_id, g.customer_id, c.name, g.currency, g.amount_cents, g.method_type, g.last4, g.intent_id,
       g.recorded_at
FROM gateway_payments g LEFT JOIN customers c ON c.customer_id = g.customer_id
WHERE g.source = 'portal' AND g.received_on = :day
ORDER BY g.recorded_at, g.payment_id
