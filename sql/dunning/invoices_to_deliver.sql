-- Open invoices issued since invoice delivery was switched on (the policy's deliver_invoices_from), with their
-- customer and how an earlier
-- delivery went (the outbox row keyed '<invoice number>|invoice', if any).
SELECT i.invoice_number, i.customer_id, i.currency, i.issue_date, i.due_date, i.amount_cents, i.open_cents,
       h.disputed = 1 AS disputed, i.promise_to_pay_date, i.pdf_path,
       c.name AS customer_name, c.collector, c.city, c.country, c.dunning_stopped, c.internal,
       o.status AS delivery_status, o.reason AS delivery_reason
FROM invoices i
JOIN invoice_dispute_holds h ON h.invoice_number = i.invoice_number
JOIN customers c ON c.customer_id = i.customer_id
LEFT JOIN dunning_outbox o ON o.outbox_key = i.invoice_number || '|invoice'
WHERE i.status = 'open' AND i.open_cents > 0 AND i.issue_date >= :since
