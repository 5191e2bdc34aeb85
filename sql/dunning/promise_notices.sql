-- Promises kept or broken lately that the customer has not yet been written to about (outbox rows keyed
-- 'promise|<promise id>|kept' or '...|broken'), and broken ones not yet on the collector's call list ('...|call'),
-- one row per open invoice of the customer and currency not held for a dispute (none for a customer who owes nothing there now).
SELECT p.promise_id, p.customer_id, p.currency, p.amount_cents, p.promised_for, p.status, p.paid_cents,
       cu.name AS customer_name, cu.collector, cu.dunning_stopped, cu.internal,
       i.invoice_number, i.due_date, i.open_cents,
       notice.status AS notice_status, task.status AS call_status
FROM promises p
JOIN customers cu ON cu.customer_id = p.customer_id
LEFT JOIN invoices i ON i.customer_id = p.customer_id AND i.currency = p.currency AND i.status = 'open'
                    AND i.open_cents > 0
                    AND i.invoice_number IN (SELECT h.invoice_number FROM invoice_dispute_holds h WHERE h.disputed = 0)
LEFT JOIN dunning_outbox notice ON notice.outbox_key = 'promise|' || p.promise_id || '|' || p.status
LEFT JOIN dunning_outbox task ON task.outbox_key = 'promise|' || p.promise_id || '|call'
WHERE p.status IN ('kept', 'broken') AND p.announced_at IS NOT NULL AND p.resolved_on >= :since
ORDER BY p.promise_id, i.due_date, i.invoice_number
