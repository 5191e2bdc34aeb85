-- The last payment each of those accounts made (in the account's currency).
WITH ranked AS (
    SELECT p.customer_id, p.currency, p.received_on, p.amount_cents,
           ROW_NUMBER() OVER (PARTITION BY p.customer_id, p.currency
                              ORDER BY p.received_on DESC, p.payment_id DESC) AS n
    FROM payments p
    WHERE p.customer_id IN (SELECT r.customer_id FROM final_notice_reviews r
                            WHERE r.decision IS NULL AND r.final_on > :today)
)
SELECT customer_id, currency, received_on, amount_cents FROM ranked WHERE n = 1
