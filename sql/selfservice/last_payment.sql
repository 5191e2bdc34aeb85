-- The customer's latest payment as the ledger or a charge recorded it: what the IVR's "last payment" says.
SELECT received_on, currency, amount_cents
FROM payments
WHERE customer_id = :customer_id
ORDER BY received_on DESC, payment_id DESC
LIMIT 1
