-- Autopay charges, for the failed-charges signal.
SELECT customer_id, charge_day, status
FROM charges
