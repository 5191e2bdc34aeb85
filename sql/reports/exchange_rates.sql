-- The ledger's exchange rates per day (the executive report converts each currency at the latest rate on or
-- before the period end).
SELECT rate_on, currency, rate
FROM exchange_rates
