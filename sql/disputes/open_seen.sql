-- Open invoices flagged disputed without an open dispute row: disputes this sync sees for the first time.
SELECT i.invoice_number
FROM invoices i
WHERE i.disputed AND i.status = 'open'
  AND NOT EXISTS (SELECT 1 FROM invoice_disputes d WHERE d.invoice_number = i.invoice_number AND d.closed_at IS NULL)
