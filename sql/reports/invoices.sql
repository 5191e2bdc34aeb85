-- Every invoice that is or was owed (void and deleted ones never were), with its customer's owners and, when
-- disputed, the moment a sync first saw its open dispute (UTC).
SELECT i.invoice_number, i.customer_id, i.currency, i.issue_date, i.due_date, i.amount_cents, i.open_cents,
       i.status, i.disputed, d.opened_at AS dispute_seen_at, i.promise_to_pay_date, c.collector, c.sales_rep
FROM invoices i
JOIN customers c ON c.customer_id = i.customer_id
LEFT JOIN invoice_disputes d ON d.invoice_number = i.invoice_number AND d.closed_at IS NULL
WHERE i.status IN ('open', 'paid')
