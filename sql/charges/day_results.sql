-- The charges of one charge day, most recent first: what was asked and what the gateway answered.
SELECT charge_key, customer_id, currency, amount_cents, attempt, status, failure_code, failure_reason, retry_on,
       payment_id, intent_id
FROM charges
WHERE charge_day = :day
ORDER BY status, customer_id, currency
