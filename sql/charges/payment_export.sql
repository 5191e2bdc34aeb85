-- The day's gateway payments, one row per invoice each applies to, for the ERP's import.
SELECT g.payment_id, g.received_on, g.customer_id, g.currency, g.amount_cents AS payment_cents, g.method_type,
       g.intent_id, a.invoice_number, a.amount_cents AS applied_cents
FROM gateway_payments g
JOIN allocations a ON a.document_kind = 'payment' AND a.document_id = g.payment_id
WHERE g.received_on = :day
ORDER BY g.payment_id, a.invoice_number
