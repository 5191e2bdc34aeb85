-- Open balance per customer and currency (never summed across currencies), with its oldest due date.
SELECT i.customer_id, cu.name AS customer_name, cu.collector, i.currency,
       SUM(i.open_cents) AS open_cents, COUNT(*) AS open_invoices, MIN(i.due_date) AS oldest_due
FROM invoices i
JOIN customers cu ON cu.customer_id = i.customer_id
WHERE i.status = 'open' AND i.open_cents > 0
GROUP BY i.customer_id, cu.name, cu.collector, i.currency
