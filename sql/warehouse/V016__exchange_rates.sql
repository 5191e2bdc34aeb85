-- arpilot AR warehouse, version 16: the ledger's exchange rates, for the executive report's company-wide figures.
-- rate: what one unit of the currency was worth in the reporting currency on rate_on, as the decimal text the
-- ledger wrote (SQLite would round a NUMERIC through a float); rate_id names the row, e.g. EUR 2026-11-30.
CREATE TABLE exchange_rates (
    rate_id             VARCHAR(64)  PRIMARY KEY,
    rate_on             DATE         NOT NULL,
    currency            VARCHAR(3)   NOT NULL,
    rate                VARCHAR(32)  NOT NULL,
    row_hash            BIGINT       NOT NULL,
    synced_at           TIMESTAMP    NOT NULL
);
CREATE INDEX exchange_rates_currency_day ON exchange_rates (currency, rate_on);
