"""Autopay at scale: the charge plan, charges per second against the local Stripe, task runs, and the pay portal's
invoice page under load.

    .venv/bin/python bench/autopay.py --invoices 1000000 --autopay-customers 10000

1. A sample ERP with that many invoices is generated and synced into a fresh SQLite warehouse (untimed); the local
   Stripe (`python -m sandbox`, localstripe) starts in a process of its own, as a gateway would be elsewhere.
2. That many customers with invoices due are enrolled for autopay in their invoices' currency, a card each, through
   the same enrolment as `arpilot autopay enroll` (timed apart: enrol_s).
3. The autopay-charges flow runs once, for real:
     plan_s         the plan-autopay-charges task run (every due invoice of every mandate, the rules, the artifact)
     charges        charges taken (succeeded) by the run
     charges_per_s  charges / the seconds from the first take-charges task run's start to the last one's end
                    (4 batches at a time, as in production)
     task_runs      task runs of the flow run, read from the Prefect API
4. The pay portal's invoice page at 50 requests/s on loopback (bench/portal.py): portal_p95_ms.
The last line printed is a JSON object with these figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
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

import stripe  # noqa: E402
from prefect.client.orchestration import get_client  # noqa: E402
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from blocks.autopay_policy import AutopayPolicy  # noqa: E402
from blocks.company import CompanyProfile  # noqa: E402
from blocks.ledger import SqlLedgerSource  # noqa: E402
from blocks.payment_gateway import PaymentGateway  # noqa: E402
from blocks.warehouse import ArWarehouse  # noqa: E402
from flows.charges import autopay_charges  # noqa: E402
from sandbox.sample_erp import generate  # noqa: E402
from sandbox.stripe_api import SANDBOX_SECRET_KEY  # noqa: E402
from tasks import warehouse as wh  # noqa: E402
from tasks.charges.mandates import enroll  # noqa: E402
from tasks.ledger.entities import ENTITIES  # noqa: E402
from tasks.ledger.sync import sync_entity  # noqa: E402

NAME = "bench-autopay"
CAP = 10**12  # no customer above the mandate's maximum: every due customer is charged


def start_stripe(folder: Path) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen([sys.executable, "-m", "sandbox", "--folder", str(folder)], stdout=subprocess.PIPE,
                              text=True, cwd=ROOT)
    return server, json.loads(server.stdout.readline())["stripe_url"]


def enrol_due_customers(engine, client: stripe.StripeClient, count: int, day: date) -> int:
    """Enrol ``count`` customers that have invoices due by ``day`` and no unapplied credit, a card each."""
    with engine.connect() as conn:
        due = wh.query_frame(conn, "SELECT customer_id, MIN(currency) AS currency FROM invoices WHERE status = 'open' "
                                   "AND open_cents > 0 AND NOT disputed AND due_date <= :day GROUP BY customer_id "
                                   "ORDER BY customer_id", {"day": day})
    for row in due.head(count).itertuples(index=False):
        card = client.v1.payment_methods.create(params={"type": "card", "card": {
            "number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}})
        enroll(engine, client, row.customer_id, row.currency, card.id, CAP, "cli")
    return min(count, len(due))


TIMED = ("plan-autopay-charges", "take-charges", "recover-charges", "autopay-results")


async def _task_runs(flow_run_id) -> tuple[int, dict[str, float]]:
    """Task runs of the flow run, and the wall-clock seconds from the first start to the last end of each kind."""
    async with get_client() as client:
        runs, page = [], None
        while page is None or len(page) == 200:  # the API returns at most 200 per call
            page = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
                                               limit=200, offset=len(runs))
            runs += page
    seconds: dict[str, float] = {}
    for kind in TIMED:
        mine = [r for r in runs if r.name.startswith(kind) and r.start_time and r.end_time]
        if mine:
            seconds[kind] = (max(r.end_time for r in mine) - min(r.start_time for r in mine)).total_seconds()
    return len(runs), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--autopay-customers", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--portal-seconds", type=float, default=30, help="length of the portal load test")
    args = parser.parse_args()
    day = date.today()

    with tempfile.TemporaryDirectory(prefix="arpilot-bench-") as tmp:
        tmp = Path(tmp)
        print(f"Generating a sample ERP with {args.invoices:,} invoices and syncing it ...", file=sys.stderr)
        generate(tmp / "erp.sqlite", invoices=args.invoices, seed=args.seed)
        store = ArWarehouse(url=f"sqlite:///{tmp / 'warehouse.sqlite'}")
        engine = store.engine()
        source = SqlLedgerSource(source_name="bench-erp", url=f"sqlite:///{tmp / 'erp.sqlite'}")
        for entity in ENTITIES:
            sync_entity(source, engine, entity, "bench")
        server, stripe_url = start_stripe(tmp / "received")
        try:
            gateway = PaymentGateway(secret_key=SecretStr(SANDBOX_SECRET_KEY), publishable_key="pk_test_bench",
                                     api_base=stripe_url)
            company = CompanyProfile(legal_name="Northwind Components Ltd", time_zone="America/Chicago")
            policy = AutopayPolicy(export_dir=str(tmp / "autopay"), batch_size=250)
            for block in (company, store, gateway, policy):
                block.save(NAME, overwrite=True)
            print(f"Enrolling {args.autopay_customers:,} customers with invoices due ...", file=sys.stderr)
            started = time.perf_counter()
            enrolled = enrol_due_customers(engine, gateway.client(), args.autopay_customers, day)
            enrol_s = time.perf_counter() - started
            print(f"  {enrolled:,} enrolled in {enrol_s:.1f} s", file=sys.stderr)
            print("Charge run ...", file=sys.stderr)
            started = time.perf_counter()
            state = autopay_charges(charge_day=day, warehouse=f"arpilot-ar-warehouse/{NAME}",
                                    company=f"arpilot-company-profile/{NAME}",
                                    gateway=f"arpilot-payment-gateway/{NAME}",
                                    autopay_policy=f"arpilot-autopay-policy/{NAME}", return_state=True)
            run_s = time.perf_counter() - started
            summary = state.result()
            task_runs, seconds = asyncio.run(_task_runs(state.state_details.flow_run_id))
        finally:
            server.terminate()
            server.wait(10)
        charges = summary.count("succeeded")
        taking = seconds.get("take-charges", 0)
        print(f"  run {run_s:.1f} s: {charges:,} charges succeeded, {len(summary.skipped):,} not charged; plan "
              f"{seconds.get('plan-autopay-charges', 0):.2f} s, taking the charges {taking:.1f} s", file=sys.stderr)
        print("Pay portal: the invoice page at 50 requests/s ...", file=sys.stderr)
        from bench.portal import portal_latency

        portal = portal_latency(invoices=args.invoices, customers=args.invoices // 10, rate=50,
                                seconds=args.portal_seconds)
    print(json.dumps({"invoices": args.invoices, "autopay_customers": enrolled,
                      "plan_s": round(seconds.get("plan-autopay-charges", 0), 2), "charges": charges,
                      "charges_per_s": round(charges / taking, 1) if taking else None, "task_runs": task_runs,
                      "enrol_s": round(enrol_s, 1), "portal_p95_ms": portal["p95_ms"]}))


if __name__ == "__main__":
    main()
