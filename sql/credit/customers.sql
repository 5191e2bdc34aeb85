-- Every customer with the credit limit and hold in force (customer_credit: arpilot's approved change, else the
-- ledger's), the limit in the currency it is kept in (the customer's, else the company's default currency), and
-- what the ledger itself shows.
SELECT c.customer_id, COALESCE(c.currency, :default_currency) AS currency, k.credit_limit_cents, k.on_hold,
       k.ledger_limit_cents, k.ledger_hold, k.source AS limit_source
FROM customers c
JOIN customer_credit k ON k.customer_id = c.customer_id
WHERE NOT c.internal
ORDER BY c.customer_id
