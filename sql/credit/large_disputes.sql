-- Disputes first seen on or after the day given, each worth at least the given percent of the customer's limit in
-- force, in the limit's currency (a dispute in another currency, or of a customer without a limit, is not
-- measured against it).
SELECT d.dispute_id, i.customer_id, d.currency, d.amount_cents, k.credit_limit_cents AS limit_cents
FROM invoice_disputes d
JOIN invoices i ON i.invoice_number = d.invoice_number
JOIN customers c ON c.customer_id = i.customer_id
JOIN customer_credit k ON k.customer_id = c.customer_id
WHERE d.opened_at >= :since AND d.dispute_id IS NOT NULL AND NOT c.internal
  AND d.currency = COALESCE(c.currency, :default_currency) AND k.credit_limit_cents IS NOT NULL
  AND d.amount_cents * 100 >= k.credit_limit_cents * :percent
ORDER BY d.dispute_id
