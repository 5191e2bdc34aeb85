-- arpilot AR warehouse, version 11: a nightly KPI snapshot may hold figures that cannot be known (NULL), with
-- the reason in unknown_reason, instead of failing: e.g. what was disputed on a day before any sync recorded a
-- dispute, or open AR while the ledger has paid invoices without a settlement date. The table is rebuilt because
-- SQLite cannot drop a NOT NULL constraint in place.
CREATE TABLE kpi_snapshots_v11 (
    snapshot_on         DATE         NOT NULL,
    currency            VARCHAR(3)   NOT NULL,
    open_cents          BIGINT,
    current_cents       BIGINT,
    past_due_cents      BIGINT,
    disputed_cents      BIGINT,
    disputed_invoices   INTEGER,
    dso_days            NUMERIC(8, 1),
    best_possible_dso_days NUMERIC(8, 1),
    percent_current     NUMERIC(5, 1),
    unknown_reason      TEXT,
    run_id              VARCHAR(64)  NOT NULL,
    taken_at            TIMESTAMP    NOT NULL,
    PRIMARY KEY (snapshot_on, currency)
);
INSERT INTO kpi_snapshots_v11 (snapshot_on, currency, open_cents, current_cents, past_due_cents, disputed_cents,
                               disputed_invoices, dso_days, best_possible_dso_days, percent_current, run_id, taken_at)
SELECT snapshot_on, currency, open_cents, current_cents, past_due_cents, disputed_cents, disputed_invoices,
       dso_days, best_possible_dso_days, percent_current, run_id, taken_at
FROM kpi_snapshots;
DROP TABLE kpi_snapshots;
ALTER TABLE kpi_snapshots_v11 RENAME TO kpi_snapshots;
