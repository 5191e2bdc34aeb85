-- Disputes as the syncs saw them (UTC): opened when a sync first saw the invoice disputed, closed when one saw
-- the dispute end. The ledger itself only says what is disputed now.
SELECT d.invoice_number, d.opened_at, d.closed_at
FROM invoice_disputes d
JOIN invoices i ON i.invoice_number = d.invoice_number AND i.status IN ('open', 'paid')
