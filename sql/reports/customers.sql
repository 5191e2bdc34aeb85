-- Customers with anything owed or settled, and who looks after them.
SELECT customer_id, name, collector, sales_rep, on_hold, credit_limit_cents
FROM customers
