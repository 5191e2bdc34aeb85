-- arpilot AR warehouse, version 4: the nightly KPI snapshot, one row per day and currency.
-- History the ledger cannot rebuild later (what was disputed that night), and the trend the reports draw.
-- Day counts and percentages have one decimal; NULL where the formula has no denominator (no sales).
CREATE TABLE kpi_snapshots (
    snapshot_on         DATE         NOT NULL,
    currency            VARCHAR(3)   NOT NULL,
    open_cents          BIGINT       NOT NULL,
    current_cents       BIGINT       NOT NULL,
    past_due_cents      BIGINT       NOT NULL,
    disputed_cents      BIGINT       NOT NULL,
    disputed_invoices   INTEGER      NOT NULL,
    dso_days            NUMERIC(8, 1),
    best_possible_dso_days NUMERIC(8, 1),
    percent_current     NUMERIC(5, 1),
    run_id              VARCHAR(64)  NOT NULL,
    taken_at            TIMESTAMP    NOT NULL,
    PRIMARY KEY (snapshot_on, currency)
);
