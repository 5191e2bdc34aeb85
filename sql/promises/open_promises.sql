-- Promises still open, to be judged kept or broken tonight.
SELECT promise_id, customer_id, currency, amount_cents, promised_for, hold_until, recorded_on
FROM promises
WHERE status = 'open'
ORDER BY promise_id
