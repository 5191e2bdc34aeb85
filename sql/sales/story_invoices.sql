-- The open invoices of the accounts whose final notice awaits the sales rep's answer (DISTINCT: an account
-- may await two answers, each row once).
SELECT DISTINCT i.customer_id, i.currency, i.invoice_number, i.due_date, i.open_cents
FROM invoices i
JOIN final_notice_reviews r ON r.customer_id = i.customer_id AND r.currency = i.currency
WHERE r.decision IS NULL AND r.final_on > :today AND i.status = 'open' AND i.open_cents > 0
ORDER BY i.customer_id, i.currency, i.due_date, i.invoice_number
