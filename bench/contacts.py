"""The nightly contact stage at scale: first run on a fresh warehouse, then a run after 1 % of contacts changed.

    .venv/bin/python bench/contacts.py --contacts 150000

The sample ERP is generated and synced into a SQLite warehouse untimed (about 1.45 contacts and up to 10
invoices per customer). Each timed run is the contact stage exactly as the nightly flow runs it, as Prefect
tasks: normalise new or changed contacts, build tonight's roster, run the GX suite (with Data Docs), record
results and verdicts, write worklists and artifacts.
  first_s    stage on a warehouse that has never normalised a contact
  second_s   stage after 1 % of contacts were re-verified in the ERP and synced
  ratio      second_s / first_s (target <= 0.15)
Great Expectations is imported before either run (it takes seconds and a nightly process pays it once), so
both runs are timed warm; the import time is printed separately. The last line printed is a JSON object with
these figures.
"""

from __future__ import annotations

import argparse
import json
import math
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

from prefect import flow  # noqa: E402

from blocks.contact_policy import ContactPolicy  # noqa: E402
from blocks.ledger import SqlLedgerSource  # noqa: E402
from blocks.warehouse import ArWarehouse  # noqa: E402
from sandbox.sample_erp import generate, touch_contacts  # noqa: E402
from tasks.contacts.checks import check_contacts, normalize_changed_contacts  # noqa: E402
from tasks.ledger.entities import CONTACTS, CUSTOMERS, INVOICES  # noqa: E402
from tasks.ledger.sync import sync_entity  # noqa: E402

COMPANY_ZONE = "America/Chicago"


@flow(name="bench-contact-stage")
def contact_stage(store: ArWarehouse, policy: ContactPolicy, as_of: date, run_id: str) -> tuple[float, object]:
    started = time.perf_counter()
    normalize_changed_contacts(store, COMPANY_ZONE)
    normalized = time.perf_counter()
    check = check_contacts(store, policy, "arpilot-contact-policy/bench", as_of, run_id)
    done = time.perf_counter()
    print(f"  normalize-contacts {normalized - started:.2f} s, check-contacts {done - normalized:.2f} s",
          file=sys.stderr)
    return done - started, check


def sync(source: SqlLedgerSource, store: ArWarehouse, run_id: str) -> None:
    engine = store.engine()
    for entity in (CUSTOMERS, CONTACTS, INVOICES):
        sync_entity(source, engine, entity, run_id)
    engine.dispose()


def report(label: str, seconds: float, check) -> None:
    d = check.decision
    print(f"  {label}: {seconds:.2f} s; roster {d.roster_rows:,} contacts of customers with an open balance, "
          f"{d.failing_rows:,} failing ({d.failing_share:.1%}); worklist {check.worklist_rows:,}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contacts", type=int, default=150_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    as_of = date.today()

    with tempfile.TemporaryDirectory(prefix="arpilot-bench-") as tmp:
        tmp = Path(tmp)
        erp = tmp / "erp.sqlite"
        started = time.perf_counter()
        customers = math.ceil(args.contacts / 1.45)  # the sample ERP has about 1.45 contacts per customer
        summary = generate(erp, invoices=min(10 * customers, 1_000_000), customers=customers, seed=args.seed,
                           as_of=as_of, progress=True)
        source = SqlLedgerSource(source_name="bench-erp", url=f"sqlite:///{erp}")
        store = ArWarehouse(url=f"sqlite:///{tmp / 'warehouse.sqlite'}")
        policy = ContactPolicy(output_dir=str(tmp / "out"))
        sync(source, store, "bench-first")
        print(f"ERP generated and synced in {time.perf_counter() - started:.1f} s (untimed): {summary.rows}",
              file=sys.stderr)

        started = time.perf_counter()
        import tasks.contacts.expectations  # noqa: F401
        print(f"Great Expectations imported in {time.perf_counter() - started:.1f} s (untimed)", file=sys.stderr)

        first_s, check = contact_stage(store, policy, as_of, "bench-first")
        report("first run", first_s, check)
        changed = touch_contacts(erp, fraction=0.01, seed=args.seed + 1)
        sync(source, store, "bench-second")
        second_s, check = contact_stage(store, policy, as_of, "bench-second")
        report(f"second run ({changed:,} contacts changed)", second_s, check)

    print(json.dumps({
        "contacts": summary.rows["contact"],
        "first_s": round(first_s, 2),
        "second_s": round(second_s, 2),
        "ratio": round(second_s / first_s, 3),
    }))


if __name__ == "__main__":
    main()
