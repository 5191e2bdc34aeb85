-- Exchange rates of the sample ERP per day: what one unit of the currency was worth in the ERP's base currency
-- (the company's reporting currency), changed since the last sync (watermark).
SELECT currency || ' ' || rate_date AS rate_id,
       rate_date                    AS rate_on,
       currency                     AS currency,
       rate                         AS rate,
       updated_at                   AS source_updated_at
FROM exchange_rates
WHERE updated_at >= :since
