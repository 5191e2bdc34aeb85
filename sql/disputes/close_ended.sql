-- Disputes that ended: the invoice is no longer flagged disputed, or no longer open (paid, void, deleted).
UPDATE invoice_disputes SET closed_at = :at
WHERE closed_at IS NULL
  AND invoice_number NOT IN (SELECT invoice_number FROM invoices WHERE disputed AND status = 'open')
