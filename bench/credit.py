"""The credit review at scale: every customer's signals and scorecard, seconds and peak memory.

    .venv/bin/python bench/credit.py --customers 100000 --invoices 1000000

A ledger of that many customers (each with a credit limit in their currency) and invoices over 15 months is made
in memory (untimed): most invoices paid, a share late, some open, disputes, promises and failed charges spread
over the customers. Then timed, as the review flow runs them:
  signals_s  tasks/credit/signals.credit_signals over every customer
  review_s   tasks/credit/scorecard.review of each customer's signals on the default credit policy
The last line printed is a JSON object: customers, invoices, signals_s, review_s, total_s, peak_rss_mb, and how
many customers each recommendation got.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections import Counter
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from blocks.credit_policy import CreditPolicy  # noqa: E402
from tasks.credit.scorecard import review  # noqa: E402
from tasks.credit.signals import credit_signals  # noqa: E402
from tasks.kpi.ledger import Ledger  # noqa: E402

AS_OF = date(2026, 11, 30)
CURRENCIES = np.array(["USD", "EUR", "GBP"])


def make_ledger(customers: int, invoices: int, seed: int = 7) -> tuple[Ledger, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.array([f"C{n:06d}" for n in range(customers)])
    home = CURRENCIES[rng.integers(0, 3, customers)]
    owner = rng.integers(0, customers, invoices)
    issued = pd.Timestamp(AS_OF) - pd.to_timedelta(rng.integers(0, 450, invoices), unit="D")
    due = issued + pd.Timedelta(days=30)
    cents = rng.integers(5_000, 2_000_000, invoices)
    late = np.where(rng.random(invoices) < 0.3, rng.integers(1, 60, invoices), 0)
    paid_on = due + pd.to_timedelta(late, unit="D")
    paid = paid_on <= pd.Timestamp(AS_OF)
    numbers = np.array([f"INV-{n:08d}" for n in range(invoices)])
    inv = pd.DataFrame({"invoice_number": numbers, "customer_id": ids[owner], "currency": home[owner],
                        "issue_date": issued.strftime("%Y-%m-%d"), "due_date": due.strftime("%Y-%m-%d"),
                        "amount_cents": cents, "open_cents": np.where(paid, 0, cents),
                        "status": np.where(paid, "paid", "open"), "disputed": False, "promise_to_pay_date": None,
                        "collector": "Ann", "sales_rep": "Sam"})
    settlements = pd.DataFrame({"invoice_number": numbers[paid], "kind": "payment",
                                "settled_on": paid_on[paid].strftime("%Y-%m-%d"), "amount_cents": cents[paid]})
    disputed = rng.choice(invoices, invoices // 50, replace=False)
    disputes = pd.DataFrame({"invoice_number": numbers[disputed], "opened_on": inv["issue_date"].to_numpy()[disputed],
                             "closed_on": None})
    broken = rng.integers(0, customers, customers // 10)
    promises = pd.DataFrame({"promise_id": [f"P{n}" for n in range(len(broken))], "customer_id": ids[broken],
                             "currency": home[broken], "amount_cents": 100_000, "promised_for": "2026-06-01",
                             "taken_by": "Ann", "recorded_on": "2026-05-20", "status": "broken",
                             "resolved_on": "2026-06-05"})
    limits = pd.DataFrame({"customer_id": ids, "currency": home,
                           "credit_limit_cents": rng.integers(10, 200, customers) * 100_000})
    customer_frame = pd.DataFrame({"customer_id": ids, "name": ids, "collector": "Ann", "sales_rep": "Sam",
                                   "on_hold": False, "credit_limit_cents": limits["credit_limit_cents"]})
    failed = rng.integers(0, customers, customers // 20)
    charges = pd.DataFrame({"customer_id": ids[failed], "charge_day": "2026-08-03", "status": "failed"})
    notes = pd.DataFrame({c: pd.Series(dtype=object) for c in ("customer_id", "currency", "issue_date",
                                                              "amount_cents", "collector", "sales_rep")})
    ledger = Ledger(inv, settlements, notes, customer_frame, disputes=disputes, promises=promises)
    return ledger, limits, charges


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    args = parser.parse_args()
    started = time.perf_counter()
    ledger, limits, charges = make_ledger(args.customers, args.invoices)
    print(f"ledger: {args.invoices:,} invoices, {args.customers:,} customers in "
          f"{time.perf_counter() - started:.1f} s (untimed)", file=sys.stderr, flush=True)
    policy = CreditPolicy()
    started = time.perf_counter()
    signals = credit_signals(ledger, limits, charges, AS_OF, policy.review_months, policy.late_grace_days)
    signals_s = time.perf_counter() - started
    started = time.perf_counter()
    reviews = [review(s, policy) for s in signals]
    review_s = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"customers": args.customers, "invoices": args.invoices, "signals_s": round(signals_s, 2),
                      "review_s": round(review_s, 2), "total_s": round(signals_s + review_s, 2),
                      "peak_rss_mb": round(peak), **Counter(r.recommendation for r in reviews)}))


if __name__ == "__main__":
    main()
