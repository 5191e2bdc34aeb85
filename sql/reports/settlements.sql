-- What settled each invoice and when: payments on the day received, credit notes on their issue date, and,
-- for ledgers that give only a settled date (file exports), a payment on that day of what the invoice no longer
-- owes beyond its allocations. What is settled but neither allocated nor dated stays out: the KPIs say unknown.
SELECT a.invoice_number, a.document_kind AS kind, p.received_on AS settled_on, a.amount_cents
FROM allocations a
JOIN payments p ON a.document_kind = 'payment' AND p.payment_id = a.document_id
JOIN invoices i ON i.invoice_number = a.invoice_number AND i.status IN ('open', 'paid')
UNION ALL
SELECT a.invoice_number, a.document_kind AS kind, n.issue_date AS settled_on, a.amount_cents
FROM allocations a
JOIN credit_notes n ON a.document_kind = 'credit_note' AND n.credit_note_id = a.document_id
JOIN invoices i ON i.invoice_number = a.invoice_number AND i.status IN ('open', 'paid')
UNION ALL
SELECT i.invoice_number, 'payment' AS kind, i.settled_date AS settled_on,
       i.amount_cents - i.open_cents - COALESCE(SUM(a.amount_cents), 0) AS amount_cents
FROM invoices i
LEFT JOIN allocations a ON a.invoice_number = i.invoice_number
WHERE i.settled_date IS NOT NULL AND i.status IN ('open', 'paid')
GROUP BY i.invoice_number, i.settled_date, i.amount_cents, i.open_cents
HAVING i.amount_cents - i.open_cents - COALESCE(SUM(a.amount_cents), 0) > 0
