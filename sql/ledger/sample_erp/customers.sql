-- Customers of the sample ERP, changed since the last sync (watermark).
SELECT cust_no              AS customer_id,
       name                 AS name,
       country              AS country,
       city                 AS city,
       tz                   AS time_zone,
       currency             AS currency,
       terms_days           AS terms_days,
       credit_limit         AS credit_limit,
       collector            AS collector,
       sales_rep            AS sales_rep,
       autopay              AS autopay,
       credit_hold          AS on_hold,
       dunning_paused_until AS paused_until,
       dunning_stop         AS dunning_stopped,
       is_internal          AS internal,
       updated_at           AS source_updated_at
FROM customer
WHERE updated_at >= :since
