-- Open invoices the ledger marks with a promise to pay, with what is open on each: one promise per customer,
-- currency and promised date comes of them.
SELECT i.invoice_number, i.customer_id, i.currency, i.promise_to_pay_date, i.open_cents
FROM invoices i
WHERE i.status = 'open' AND i.open_cents > 0 AND i.promise_to_pay_date IS NOT NULL
ORDER BY i.customer_id, i.currency, i.promise_to_pay_date, i.invoice_number
