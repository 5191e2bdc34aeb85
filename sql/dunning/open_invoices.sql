-- Open invoices with what decides whether they may be dunned today.
SELECT invoice_number, customer_id, currency, due_date, open_cents, disputed, promise_to_pay_date
FROM invoices
WHERE status = 'open' AND open_cents > 0
