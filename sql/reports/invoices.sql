-- Every invoice that is or was owed (void and deleted ones never were), with its customer's owners.
SELECT i.invoice_number, i.customer_id, i.currency, i.issue_date, i.due_date, i.amount_cents, i.open_cents,
       i.status, i.disputed, i.promise_to_pay_date, c.collector, c.sales_rep
FROM invoices i
JOIN customers c ON c.customer_id = i.customer_id
WHERE i.status IN ('open', 'paid')
