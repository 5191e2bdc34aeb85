-- A customer's open invoices, as the portal page and statement list them (disputed ones are shown, not payable).
-- "status || ''" keeps SQLite on the customer index: on the status index it would walk every open invoice.
SELECT invoice_number, currency, issue_date, due_date, amount_cents, open_cents, disputed
FROM invoices
WHERE customer_id = :customer_id AND status || '' = 'open' AND open_cents > 0
ORDER BY currency, due_date, invoice_number
