-- The ledger cleared its flag (or the invoice is no longer open) for these ledger disputes: remember when, so
-- that a flag set again later opens a new dispute.
UPDATE invoice_disputes SET flag_cleared_at = :at
WHERE flag_cleared_at IS NULL AND source = 'ledger'
  AND invoice_number NOT IN (SELECT invoice_number FROM invoices WHERE disputed AND status = 'open')
