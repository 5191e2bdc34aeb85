-- What a portal mandate's cap is based on: the open balance and the largest invoice of the last year.
SELECT
    COALESCE(SUM(CASE WHEN status = 'open' THEN open_cents ELSE 0 END), 0) AS open_cents,
    COALESCE(MAX(CASE WHEN issue_date >= :since THEN amount_cents ELSE 0 END), 0) AS largest_cents
FROM invoices
WHERE customer_id = :customer_id AND currency = :currency
