-- Disputes as the syncs saw them (UTC): opened when a sync first saw the invoice disputed, closed when one saw
-- the dispute end. The ledger itself only says what is disputed now. With each, its reason (a code and the words)
-- and how far up it has gone: level 0 (AR manager and sales rep told), 1, 2... (the escalation policy's levels),
-- and when it last went up (UTC).
SELECT d.invoice_number, d.opened_at, d.closed_at, d.reason_code, d.reason_text, d.level, d.level_raised_at
FROM invoice_disputes d
JOIN invoices i ON i.invoice_number = d.invoice_number AND i.status IN ('open', 'paid')
