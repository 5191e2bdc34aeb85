-- Gateway payments, one row per invoice each applies to, as the ERP imports them (the CSV export and the SQL
-- write-back filter this by day, or by not yet written back).
SELECT g.payment_id, g.received_on, g.customer_id, g.currency, g.amount_cents AS payment_cents, g.method_type,
       g.intent_id, a.invoice_number, a.amount_cents AS applied_cents, g.written_back_at
FROM gateway_payments g
JOIN allocations a ON a.document_kind = 'payment' AND a.document_id = g.payment_id
