-- Messages planned but held back between two days, with the reason (one row per message per night).
SELECT customer_id, currency, channel, reason, planned_on
FROM dunning_skips
WHERE planned_on BETWEEN :start AND :end
