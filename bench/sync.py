"""Ledger sync at scale: full and incremental sync of a sample ERP into a fresh SQLite warehouse.

    .venv/bin/python bench/sync.py --invoices 1000000

Measures, with source generation untimed:
  full_s             sync of every entity into an empty warehouse (validation, fingerprints, upserts,
                     quarantine, deleted-invoice check), through the same sync_entity the nightly task runs
  floor_s            the least any loader can do: a plain pandas read of the same source tables plus a plain
                     executemany insert of those rows into empty tables of a fresh SQLite file
  ratio              full_s / floor_s (target <= 3.0)
  incremental_s      sync after 1 % of invoices changed in the ledger
  incremental_fraction  incremental_s / full_s (target <= 0.10)
The last line printed is a JSON object with these figures.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from blocks.ledger import SqlLedgerSource  # noqa: E402
from blocks.warehouse import create_warehouse_engine, migrate  # noqa: E402
from sandbox.sample_erp import generate, touch_invoices  # noqa: E402
from tasks.ledger.entities import ENTITIES  # noqa: E402
from tasks.ledger.sync import sync_entity  # noqa: E402

SOURCE_TABLES = ("customer", "contact", "invoice", "payment", "credit_note", "allocation")


def sync_all(source: SqlLedgerSource, warehouse_url: str, run_id: str) -> tuple[float, int, list]:
    engine = create_warehouse_engine(warehouse_url)
    migrate(engine)
    started = time.perf_counter()
    results = [sync_entity(source, engine, entity, run_id) for entity in ENTITIES]
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed, sum(r.read for r in results), results


def floor(erp: Path, target: Path) -> float:
    started = time.perf_counter()
    source = sqlite3.connect(erp)
    out = sqlite3.connect(target)
    for table in SOURCE_TABLES:
        frame = pd.read_sql_query(f"SELECT * FROM {table}", source)
        columns = ", ".join(f'"{c}"' for c in frame.columns)
        out.execute(f"CREATE TABLE {table} ({columns})")
        marks = ", ".join("?" * len(frame.columns))
        out.executemany(f"INSERT INTO {table} VALUES ({marks})", frame.astype(object).where(frame.notna(), None)
                        .itertuples(index=False, name=None))
        out.commit()
    elapsed = time.perf_counter() - started
    source.close()
    out.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="arpilot-bench-") as tmp:
        tmp = Path(tmp)
        erp = tmp / "erp.sqlite"
        started = time.perf_counter()
        summary = generate(erp, invoices=args.invoices, seed=args.seed, progress=True)
        print(f"source generated in {time.perf_counter() - started:.1f} s (untimed): {summary.rows}", file=sys.stderr)

        source = SqlLedgerSource(source_name="bench-erp", url=f"sqlite:///{erp}")
        warehouse = f"sqlite:///{tmp / 'warehouse.sqlite'}"
        full_s, rows, results = sync_all(source, warehouse, "bench-full")
        for r in results:
            print(f"  full  {r.entity:13} read {r.read:>9,} inserted {r.inserted:>9,} quarantined {r.quarantined:>6,}",
                  file=sys.stderr)
        floor_s = floor(erp, tmp / "floor.sqlite")

        changed = touch_invoices(erp, fraction=0.01, seed=args.seed + 1)
        incremental_s, _, results = sync_all(source, warehouse, "bench-incremental")
        for r in results:
            print(f"  incr  {r.entity:13} read {r.read:>9,} inserted {r.inserted:>9,} updated {r.updated:>7,}",
                  file=sys.stderr)
        print(f"{changed:,} invoices changed for the incremental run", file=sys.stderr)

    print(json.dumps({
        "invoices": args.invoices,
        "rows_per_s": round(rows / full_s),
        "full_s": round(full_s, 2),
        "floor_s": round(floor_s, 2),
        "ratio": round(full_s / floor_s, 2),
        "incremental_s": round(incremental_s, 2),
        "incremental_fraction": round(incremental_s / full_s, 3),
    }))


if __name__ == "__main__":
    main()
