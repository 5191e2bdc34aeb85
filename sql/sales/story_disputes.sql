-- The open disputes of those accounts, oldest first.
SELECT DISTINCT i.customer_id, i.currency, d.invoice_number, d.opened_at, COALESCE(d.amount_cents, i.open_cents) AS amount_cents,
       COALESCE(d.reason_text, d.reason_code, i.dispute_reason) AS reason
FROM invoice_disputes d
JOIN invoices i ON i.invoice_number = d.invoice_number
JOIN final_notice_reviews r ON r.customer_id = i.customer_id AND r.currency = i.currency
WHERE r.decision IS NULL AND r.final_on > :today AND d.status = 'open'
ORDER BY i.customer_id, i.currency, d.opened_at
