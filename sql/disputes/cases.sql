-- Disputes with what a person needs to act on them: the invoice, the customer, its collector and sales rep.
-- The caller adds the filter (one invoice, or those whose notices are still to be sent).
SELECT d.dispute_id, d.invoice_number, d.opened_at, d.source, d.reason_code, d.reason_text, d.currency,
       d.amount_cents, d.owner, d.level, d.status, d.closed_at, d.resolved_by, d.note,
       i.customer_id, i.due_date, i.open_cents, c.name AS customer_name, c.collector, c.sales_rep
FROM invoice_disputes d
JOIN invoices i ON i.invoice_number = d.invoice_number
JOIN customers c ON c.customer_id = i.customer_id
