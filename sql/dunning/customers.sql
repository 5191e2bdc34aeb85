-- Customers owing something, with their dunning flags from the ledger and the credit hold in force
-- (customer_credit). (IN, not a correlated EXISTS: SQLite
-- would answer EXISTS through the status index and scan every open invoice once per customer.)
SELECT c.customer_id, c.name, c.collector, c.sales_rep, c.paused_until, c.dunning_stopped, c.internal,
       k.on_hold AS credit_hold
FROM customers c
JOIN customer_credit k ON k.customer_id = c.customer_id
WHERE c.customer_id IN (SELECT i.customer_id FROM invoices i WHERE i.status = 'open' AND i.open_cents > 0)
