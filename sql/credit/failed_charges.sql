-- Autopay charges that failed for good (no retry to come) on or after the day given.
SELECT charge_key, customer_id, currency, amount_cents, charge_day, failure_reason
FROM charges
WHERE status = 'failed' AND retry_on IS NULL AND charge_day >= :since
ORDER BY charge_key
