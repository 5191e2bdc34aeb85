-- Open disputes that just ended in the ledger: the invoice is no longer open (paid, void, deleted), or, for a
-- dispute the ledger raised, its flag is cleared. With the invoice's status and the newest credit note allocated
-- to it, from which the outcome is read.
SELECT d.dispute_id, d.opened_at, i.status AS invoice_status,
       (SELECT MAX(cn.issue_date) FROM allocations a
        JOIN credit_notes cn ON cn.credit_note_id = a.document_id
        WHERE a.document_kind = 'credit_note' AND a.invoice_number = d.invoice_number) AS last_credit_on
FROM invoice_disputes d
JOIN invoices i ON i.invoice_number = d.invoice_number
WHERE d.closed_at IS NULL
  AND (i.status <> 'open' OR (d.source = 'ledger' AND NOT i.disputed))
