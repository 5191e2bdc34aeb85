-- Payments of customers with an open promise, received on or after the earliest day such a promise was recorded.
SELECT y.customer_id, y.currency, y.received_on, y.amount_cents
FROM payments y
WHERE y.received_on >= :since
  AND y.customer_id IN (SELECT p.customer_id FROM promises p WHERE p.status = 'open')
