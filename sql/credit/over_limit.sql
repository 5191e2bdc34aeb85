-- Customers whose open AR in their limit's currency is above the limit in force (customer_credit). Internal
-- customers are never reviewed; a customer without a limit has none to exceed.
SELECT c.customer_id, COALESCE(c.currency, :default_currency) AS currency, k.credit_limit_cents AS limit_cents,
       SUM(i.open_cents) AS open_cents
FROM customers c
JOIN customer_credit k ON k.customer_id = c.customer_id
JOIN invoices i ON i.customer_id = c.customer_id
WHERE i.status = 'open' AND i.currency = COALESCE(c.currency, :default_currency)
  AND NOT c.internal AND k.credit_limit_cents IS NOT NULL
GROUP BY c.customer_id, COALESCE(c.currency, :default_currency), k.credit_limit_cents
HAVING SUM(i.open_cents) > k.credit_limit_cents
ORDER BY c.customer_id
