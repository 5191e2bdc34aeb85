-- Every customer with their credit limit, in the currency it is kept in (the customer's, else the company's
-- default currency), and whether the ledger has them on credit hold.
SELECT customer_id, COALESCE(currency, :default_currency) AS currency, credit_limit_cents, on_hold
FROM customers
WHERE NOT internal
ORDER BY customer_id
