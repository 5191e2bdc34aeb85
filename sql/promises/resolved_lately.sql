-- Promises kept or broken lately, with the account's people, whether the outcome was announced, and how many
-- promises the customer has broken within the window (this one included).
SELECT p.promise_id, p.customer_id, p.currency, p.amount_cents, p.promised_for, p.status, p.resolved_on,
       p.paid_cents, p.source, p.taken_by, p.announced_at, c.name AS customer_name, c.collector, c.sales_rep,
       (SELECT COUNT(*) FROM promises b WHERE b.customer_id = p.customer_id AND b.status = 'broken'
                                         AND b.promised_for >= :window_start) AS broken_in_window
FROM promises p
JOIN customers c ON c.customer_id = p.customer_id
WHERE p.status IN ('kept', 'broken') AND p.resolved_on >= :since
ORDER BY p.promise_id
