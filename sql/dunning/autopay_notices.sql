-- Autopay charges the customer must hear about (declined, or waiting for the customer to authenticate) from the
-- last weeks, one row per invoice each covered, with the customer, the payment method and how the customer's
-- notice and the collector's call task went (outbox rows keyed '<charge key>|autopay' and '<charge key>|call').
SELECT c.charge_key, c.customer_id, c.currency, c.charge_day, c.amount_cents, c.status, c.failure_kind,
       c.failure_reason, c.retry_on, c.method_type, m.last4,
       ci.invoice_number, ci.amount_cents AS covered_cents, i.due_date,
       cu.name AS customer_name, cu.collector, cu.dunning_stopped, cu.internal,
       notice.status AS notice_status, task.status AS call_status
FROM charges c
JOIN charge_invoices ci ON ci.charge_key = c.charge_key
JOIN invoices i ON i.invoice_number = ci.invoice_number
JOIN customers cu ON cu.customer_id = c.customer_id
LEFT JOIN autopay_mandates m ON m.customer_id = c.customer_id AND m.currency = c.currency
                             AND m.payment_method = c.payment_method
LEFT JOIN dunning_outbox notice ON notice.outbox_key = c.charge_key || '|autopay'
LEFT JOIN dunning_outbox task ON task.outbox_key = c.charge_key || '|call'
WHERE c.status IN ('failed', 'requires_action') AND c.charge_day >= :since
ORDER BY c.charge_key, ci.invoice_number
