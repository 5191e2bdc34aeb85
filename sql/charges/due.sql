-- Invoices an autopay charge on the charge day may take: open, undisputed, due by then, of customers with an active mandate.
SELECT i.invoice_number, i.customer_id, i.currency, i.due_date, i.open_cents
FROM invoices i
WHERE i.status = 'open' AND i.open_cents > 0 AND NOT i.disputed AND i.due_date <= :day
  AND i.customer_id IN (SELECT customer_id FROM autopay_mandates WHERE status = 'active')
