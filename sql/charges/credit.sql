-- Unapplied credit of autopay customers per currency: payments and credit notes beyond what is allocated.
WITH documents AS (
    SELECT p.customer_id, p.currency, p.amount_cents - COALESCE(SUM(a.amount_cents), 0) AS unapplied_cents
    FROM payments p
    LEFT JOIN allocations a ON a.document_kind = 'payment' AND a.document_id = p.payment_id
    WHERE p.customer_id IN (SELECT customer_id FROM autopay_mandates WHERE status = 'active')
    GROUP BY p.payment_id, p.customer_id, p.currency, p.amount_cents
    UNION ALL
    SELECT n.customer_id, n.currency, n.amount_cents - COALESCE(SUM(a.amount_cents), 0) AS unapplied_cents
    FROM credit_notes n
    LEFT JOIN allocations a ON a.document_kind = 'credit_note' AND a.document_id = n.credit_note_id
    WHERE n.customer_id IN (SELECT customer_id FROM autopay_mandates WHERE status = 'active')
    GROUP BY n.credit_note_id, n.customer_id, n.currency, n.amount_cents
)
SELECT customer_id, currency, SUM(unapplied_cents) AS unapplied_cents
FROM documents
GROUP BY customer_id, currency
HAVING SUM(unapplied_cents) > 0
