-- Open invoices flagged disputed that no dispute row covers yet: disputes this sync sees for the first time.
-- Not opened again: an invoice with an open dispute, or whose dispute a person resolved while the ledger still
-- flags it (flag_cleared_at stays empty until the ledger clears the flag).
SELECT i.invoice_number, i.dispute_code AS reason_code, i.dispute_reason AS reason_text, i.currency,
       i.open_cents AS amount_cents, c.collector AS owner
FROM invoices i
JOIN customers c ON c.customer_id = i.customer_id
WHERE i.disputed AND i.status = 'open'
  AND NOT EXISTS (SELECT 1 FROM invoice_disputes d WHERE d.invoice_number = i.invoice_number
                  AND (d.closed_at IS NULL OR (d.source = 'ledger' AND d.flag_cleared_at IS NULL)))
