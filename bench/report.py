"""KPI reports at scale: KPI computation, Chrome start, and the whole report run.

    .venv/bin/python bench/report.py --invoices 1000000

1. A sample ERP with that many invoices is generated and synced into an empty SQLite warehouse (untimed).
2. The reports are built as the monthly deployment builds them (executive summary, one per collector, one per
   sales rep; not emailed):
     kpi_s            reading the ledger from the warehouse and computing the KPIs of every scope
     chrome_start_s   starting the one headless Chrome that draws every chart
     total_s          the whole run: KPIs, charts, HTML and PDF of every report
     ratio            total_s / (kpi_s + chrome_start_s); the target is at most 1.5
   Also printed: whether the aging buckets add up to open AR (summed straight from the warehouse) to the cent.
The last line printed is a JSON object with these figures.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from flows.local_prefect import use_local_prefect  # noqa: E402

use_local_prefect("bench-prefect")  # not the demo's runs
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

import sqlalchemy as sa  # noqa: E402
from prefect import flow  # noqa: E402

from blocks.company import CompanyProfile  # noqa: E402
from blocks.ledger import SqlLedgerSource  # noqa: E402
from blocks.report_recipients import ReportRecipients  # noqa: E402
from blocks.warehouse import (  # noqa: E402
    ArWarehouse,  # noqa: E402
    create_warehouse_engine,
    migrate,
)
from sandbox.sample_erp import generate  # noqa: E402
from sandbox.sample_erp.world import COLLECTORS, SALES_REPS  # noqa: E402
from tasks.kpi.maths import Period  # noqa: E402
from tasks.kpi.reports import build_reports, load_activity, load_ledger  # noqa: E402
from tasks.ledger.entities import ENTITIES  # noqa: E402
from tasks.ledger.sources import ledger_reader  # noqa: E402
from tasks.ledger.sync import sync_ledger_entity  # noqa: E402


@flow(name="bench-load-warehouse")
def load_warehouse(source: SqlLedgerSource, store: ArWarehouse) -> None:
    for entity in ENTITIES:
        if ledger_reader(source).provides(entity.name):
            sync_ledger_entity(source, store, entity.name, "bench", "USD")


@flow(name="bench-kpi-reports")
def reports(store: ArWarehouse, company: CompanyProfile, recipients: ReportRecipients, period: Period) -> dict:
    started = time.perf_counter()
    ledger = load_ledger(store, company.time_zone)
    activity = load_activity(store, period)
    loaded = time.perf_counter() - started
    run = build_reports(ledger, activity, period, company, recipients, f"bench-{period.end}")
    total = time.perf_counter() - started
    return {"kpi_s": loaded + run.kpi_seconds, "chrome_start_s": run.chrome_start_seconds, "total_s": total,
            "reports": len(run.reports), "reconciles": run.company.aging_reconciles,
            "open": {c.currency: c.open_cents for c in run.company.currencies}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    as_of = date.today()
    with tempfile.TemporaryDirectory(prefix="arpilot-bench-") as tmp:
        folder = Path(tmp)
        print(f"Generating and syncing a sample ERP with {args.invoices:,} invoices ...", file=sys.stderr)
        generate(folder / "erp.sqlite", invoices=args.invoices, seed=args.seed, as_of=as_of)
        url = f"sqlite:///{folder / 'warehouse.sqlite'}"
        migrate(create_warehouse_engine(url))
        store = ArWarehouse(url=url)
        load_warehouse(SqlLedgerSource(source_name="bench-erp", url=f"sqlite:///{folder / 'erp.sqlite'}"), store)
        company = CompanyProfile(legal_name="Northwind Components Ltd", time_zone="America/Chicago")
        recipients = ReportRecipients(
            executives=["cfo@northwind.example"], output_dir=str(folder / "reports"),
            collectors={n: f"{n.split()[0].lower()}@northwind.example" for n in COLLECTORS},
            sales_reps={n: f"{n.split()[0].lower()}@northwind.example" for n in SALES_REPS})
        print("Building the monthly reports ...", file=sys.stderr)
        figures = reports(store, company, recipients, Period(as_of.replace(day=1), as_of))
        engine = sa.create_engine(url)
        with engine.connect() as conn:
            open_ar = dict(conn.execute(sa.text("SELECT currency, SUM(open_cents) FROM invoices "
                                                "WHERE status = 'open' GROUP BY currency")).all())
        engine.dispose()
    agrees = figures["reconciles"] and open_ar == figures["open"]
    print(f"  {figures['reports']} reports; aging buckets add up to the warehouse's open AR to the cent in every "
          f"currency: {'yes' if agrees else 'NO'}", file=sys.stderr)
    kpi, chrome, total = figures["kpi_s"], figures["chrome_start_s"], figures["total_s"]
    print(json.dumps({"invoices": args.invoices, "kpi_s": round(kpi, 2), "chrome_start_s": round(chrome, 2),
                      "total_s": round(total, 2), "ratio": round(total / (kpi + chrome), 2)}))


if __name__ == "__main__":
    main()
