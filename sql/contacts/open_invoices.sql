-- Open invoices (what is owed, in which currency, since when); summed per customer and currency in Python.
SELECT customer_id, currency, open_cents, due_date
FROM invoices
WHERE status = 'open' AND open_cents > 0
