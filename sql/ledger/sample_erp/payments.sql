-- Payments received, changed since the last sync (watermark).
SELECT pay_no      AS payment_id,
       cust_no     AS customer_id,
       received_on AS received_on,
       currency    AS currency,
       amount      AS amount,
       method      AS method,
       updated_at  AS source_updated_at
FROM payment
WHERE updated_at >= :since
