-- A customer's open invoices, as the portal page and statement list them (disputed ones, and those an autopay
-- charge is taking or has taken before the ledger shows it, are shown, not payable).
-- "status || ''" keeps SQLite on the customer index: on the status index it would walk every open invoice.
SELECT invoice_number, currency, issue_date, due_date, amount_cents, open_cents, disputed,
       EXISTS (SELECT 1 FROM charge_invoices ci JOIN charges c ON c.charge_key = ci.charge_key
               WHERE ci.invoice_number = invoices.invoice_number
                 AND c.status IN ('reserved', 'submitted', 'processing', 'succeeded')) AS autopay_under_way
FROM invoices
WHERE customer_id = :customer_id AND status || '' = 'open' AND open_cents > 0
ORDER BY currency, due_date, invoice_number
