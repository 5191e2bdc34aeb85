-- What settled each invoice and when: payments on the day received, credit notes on their issue date.
SELECT a.invoice_number, a.document_kind AS kind, p.received_on AS settled_on, a.amount_cents
FROM allocations a
JOIN payments p ON a.document_kind = 'payment' AND p.payment_id = a.document_id
JOIN invoices i ON i.invoice_number = a.invoice_number AND i.status IN ('open', 'paid')
UNION ALL
SELECT a.invoice_number, a.document_kind AS kind, n.issue_date AS settled_on, a.amount_cents
FROM allocations a
JOIN credit_notes n ON a.document_kind = 'credit_note' AND n.credit_note_id = a.document_id
JOIN invoices i ON i.invoice_number = a.invoice_number AND i.status IN ('open', 'paid')
