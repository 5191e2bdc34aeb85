"""The pay portal's invoice page under load: p95 latency at a steady request rate from a loopback load generator.

    .venv/bin/python bench/portal.py --invoices 1000000 --customers 10000 --rate 50 --seconds 30

1. A warehouse with that many open invoices spread over that many customers (three currencies) is written straight
   into SQLite (untimed; the sync has its own benchmark).
2. `arpilot serve`'s app runs under uvicorn on loopback in a process of its own, as in production (one process, no
   access log); the load generator runs in this one.
3. GET /p/<signed link> for random customers, started at a fixed rate (open loop: a slow answer does not delay
   the next request), each on a new connection as a browser's first visit is; the latency is measured from the
   planned start to the last byte, so queueing counts.
The last line printed is a JSON object: invoices, customers, requests, rate, errors, p50_ms, p95_ms, max_ms.
`portal_latency()` is what bench/autopay.py calls for its `portal_p95_ms`.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import socket
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import uvicorn  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from blocks.company import CompanyProfile  # noqa: E402
from blocks.pay_portal import PayPortal  # noqa: E402
from blocks.payment_gateway import PaymentGateway  # noqa: E402
from blocks.warehouse import create_warehouse_engine, migrate  # noqa: E402
from tasks import warehouse as wh  # noqa: E402
from tasks.portal.app import create_app  # noqa: E402
from tasks.portal.links import pay_link  # noqa: E402

TODAY = date(2026, 11, 23)
COMPANY = CompanyProfile(legal_name="Northwind Components Ltd", time_zone="America/Chicago")
GATEWAY = PaymentGateway(secret_key=SecretStr("sk_test_bench"), publishable_key="pk_test_bench",
                         api_base="http://127.0.0.1:9")  # the page itself asks Stripe nothing


def build_warehouse(url: str, invoices: int, customers: int, seed: int = 7):
    """Open invoices spread over customers in three currencies, written straight into a new SQLite warehouse."""
    engine = create_warehouse_engine(url)
    migrate(engine)
    rng = np.random.default_rng(seed)
    at = wh.utcnow()
    ids = [f"C{n:06d}" for n in range(customers)]
    owner = rng.integers(0, customers, invoices)
    due = pd.to_datetime(TODAY) + pd.to_timedelta(rng.integers(-120, 30, invoices), unit="D")
    cents = rng.integers(5_000, 5_000_000, invoices)
    with engine.begin() as conn:
        wh.insert(conn, "customers", pd.DataFrame({"customer_id": ids, "name": [f"Customer {i}" for i in ids],
                                                   "row_hash": 0, "synced_at": at}))
        wh.insert(conn, "invoices", pd.DataFrame({
            "invoice_number": [f"INV-{n:08d}" for n in range(invoices)], "customer_id": np.array(ids)[owner],
            "issue_date": (due - pd.Timedelta(days=30)).strftime("%Y-%m-%d"), "due_date": due.strftime("%Y-%m-%d"),
            "currency": np.array(["USD", "EUR", "GBP"])[rng.integers(0, 3, invoices)], "amount_cents": cents,
            "open_cents": cents, "status": "open", "disputed": rng.random(invoices) < 0.02, "row_hash": 0,
            "synced_at": at}))
    return engine


def _serve(url: str, port: int, key: str) -> None:
    engine = create_warehouse_engine(url)
    portal = PayPortal(base_url=f"http://127.0.0.1:{port}", signing_key=SecretStr(key))
    app = create_app(portal, GATEWAY, COMPANY, engine, today=lambda: TODAY)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def portal_latency(invoices: int, customers: int, rate: float = 50, seconds: float = 30, seed: int = 7) -> dict:
    """Build a warehouse of that size, serve the portal over it on loopback and measure its page at ``rate``
    requests per second."""
    with tempfile.TemporaryDirectory(prefix="arpilot-portal-bench-") as folder:
        url = f"sqlite:///{folder}/warehouse.sqlite"
        started = time.perf_counter()
        build_warehouse(url, invoices, customers, seed).dispose()
        print(f"warehouse: {invoices:,} invoices, {customers:,} customers in {time.perf_counter() - started:.0f} s",
              file=sys.stderr, flush=True)
        return {"invoices": invoices, "customers": customers,
                **_measure(url, [f"C{n:06d}" for n in range(customers)], rate, seconds, seed)}


def _measure(warehouse_url: str, customer_ids: list[str], rate: float, seconds: float, seed: int) -> dict:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    key = "bench-key-" + "x" * 30
    portal = PayPortal(base_url=f"http://127.0.0.1:{port}", signing_key=SecretStr(key))
    server = multiprocessing.get_context("spawn").Process(target=_serve, args=(warehouse_url, port, key), daemon=True)
    server.start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    rng = random.Random(seed)
    links = [pay_link(portal, rng.choice(customer_ids), "USD", TODAY) for _ in range(int(rate * seconds))]
    latencies: list[float] = []
    errors = 0

    def visit(url: str, planned: float) -> None:
        nonlocal errors
        time.sleep(max(0.0, planned - time.perf_counter()))
        try:
            with urllib.request.urlopen(url, timeout=30) as answer:
                answer.read()
            latencies.append(time.perf_counter() - planned)
        except OSError:
            errors += 1

    try:
        start = time.perf_counter() + 0.5
        with ThreadPoolExecutor(max_workers=64) as pool:
            for n, url in enumerate(links):
                pool.submit(visit, url, start + n / rate)
    finally:
        server.terminate()
        server.join(timeout=10)
    ordered = sorted(latencies)
    return {"requests": len(links), "rate": rate, "errors": errors,
            "p50_ms": round(statistics.median(ordered) * 1000, 1),
            "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))] * 1000, 1), "max_ms": round(ordered[-1] * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    args = parser.parse_args()
    print(json.dumps(portal_latency(args.invoices, args.customers, args.rate, args.seconds)))


if __name__ == "__main__":
    main()
