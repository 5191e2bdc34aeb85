"""The whole nightly at scale: a full night and a 1 % changed night, beside the floor measured in the same run.

    .venv/bin/python bench/nightly.py --invoices 1000000 --customers 100000 [--postgres]

1. A sample ERP with that many invoices and customers is generated (untimed); the embedded SMTP relay and Twilio
   API start in their own process on loopback. The warehouse is an empty SQLite file, or with `--postgres` a
   throwaway local PostgreSQL server (Debian's postgresql, the tests' server: fsync off).
2. The nightly flow runs as the product runs it, with its blocks: sync, disputes, contact checks and gate, portal
   payments, credit imports, dunning (every planned email, text and call sent to the local servers), KPI snapshot.
     full_s         the first night, into the empty warehouse
     incremental_s  the next night, after 1 % of the ledger's invoices changed (payments, disputes, promises)
   Each night's send instant is fixed (11:00 of that day), so what is sent does not depend on the time the bench
   runs. Great Expectations and the flows are imported before either night (untimed, printed).
3. The floor, in the same run: a plain pandas read of every ledger table, then a plain smtplib send, on one
   connection, of as many pre-rendered reminders (rendered untimed) as the full night emailed, to the same relay
   (texts and calls to the Twilio API are not in the floor).
     ratio          full_s / floor_s (goal <= 2.0); incremental_s / full_s (goal <= 0.10)
Seconds per stage (wall time of each task and subflow, from the Prefect API), task runs (Prefect API) and the peak
RSS over both nights of this process (the nightly's: peak_rss_mb, goal < 4 GB) and of the local servers are
printed; the last line is a JSON object {invoices, full_s, incremental_s, floor_s, ratio, peak_rss_mb, task_runs}.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import smtplib
import sqlite3
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.night import (  # noqa: E402
    ROOT,
    night_runs,
    peak_memory_mb,
    rendered_reminders,
    reset_peak_memory,
    save_blocks,
    send_instant,
    stage_seconds,
    start_sandbox,
)
from bench.sync import SOURCE_TABLES  # noqa: E402
from sandbox.sample_erp import generate, touch_invoices  # noqa: E402


def first_night(today: date) -> date:
    """Today, or the last Thursday when today is a Friday to Sunday: both nights are business days, so the B2B
    email rules (business days only, where configured) treat every run of the bench alike."""
    return today - timedelta(days=max(0, today.weekday() - 3))


def run_night(params: dict, day: date, label: str) -> tuple[float, object, int]:
    """Run the nightly flow for that day; print its stages. Seconds, the result and the task runs."""
    from flows.nightly import nightly

    started = time.perf_counter()
    state = nightly(**params, now=send_instant(day), return_state=True)
    seconds = time.perf_counter() - started
    result = state.result()
    nightly_id = state.state_details.flow_run_id
    time.sleep(2)  # the last task runs' end states reach the API as events
    children, task_runs = asyncio.run(night_runs(nightly_id))
    d = result.dunning
    sent = d.outcomes[d.outcomes["status"] == "sent"].groupby("channel")["messages"].sum().to_dict()
    print(f"{label} night ({day}): {seconds:.1f} s, {len(task_runs):,} task runs; {d.planned:,} messages planned, "
          f"sent {sent}, {len(d.skipped):,} held back", file=sys.stderr)
    for flow_name, stage, wall, runs in stage_seconds(nightly_id, children, task_runs):
        indent = "  " if flow_name == "nightly" else "    " + flow_name.split("-")[0] + ": "
        print(f"  {indent}{stage:34} {wall:8.2f} s  ({runs} task runs)", file=sys.stderr)
    return seconds, result, len(task_runs)


def floor(erp: Path, smtp_port: int, mails: list) -> tuple[float, float]:
    """Seconds to read every ledger table with pandas, and to send the mails on one SMTP connection."""
    started = time.perf_counter()
    with contextlib.closing(sqlite3.connect(erp)) as conn:
        rows = sum(len(pd.read_sql_query(f"SELECT * FROM {table}", conn)) for table in SOURCE_TABLES)
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", smtp_port) as smtp:
        smtp.login("bench", "bench-pw")
        for mail in mails:
            smtp.send_message(mail, mail["From"], [mail["To"]])
    send_s = time.perf_counter() - started
    print(f"floor: read {rows:,} ledger rows in {read_s:.2f} s, sent {len(mails):,} emails in {send_s:.2f} s",
          file=sys.stderr)
    return read_s, send_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--postgres", action="store_true", help="the warehouse on a throwaway local PostgreSQL")
    args = parser.parse_args()
    night = first_night(date.today())

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="arpilot-bench-")))
        if args.postgres:
            sys.path.insert(0, str(ROOT / "tests"))
            from postgres_server import postgres_server

            warehouse = stack.enter_context(postgres_server())
        else:
            warehouse = f"sqlite:///{tmp / 'warehouse.sqlite'}"
        erp = tmp / "erp.sqlite"
        started = time.perf_counter()
        summary = generate(erp, invoices=args.invoices, customers=args.customers, seed=args.seed, as_of=night,
                           progress=True)
        print(f"sample ERP generated in {time.perf_counter() - started:.0f} s (untimed): {summary.rows}",
              file=sys.stderr)
        started = time.perf_counter()
        import flows.nightly  # noqa: F401
        import tasks.contacts.expectations  # noqa: F401
        print(f"flows and Great Expectations imported in {time.perf_counter() - started:.1f} s (untimed)",
              file=sys.stderr)
        server, ports = start_sandbox(tmp / "received")
        stack.callback(server.wait, 10)
        stack.callback(server.terminate)
        email, params = save_blocks(erp, warehouse, tmp / "out", ports)

        reset_peak_memory()
        full_s, full, task_runs = run_night(params, night, "full")
        changed = touch_invoices(erp, fraction=0.01, seed=args.seed + 1)
        print(f"{changed:,} invoices changed in the ledger", file=sys.stderr)
        incremental_s, _, _ = run_night(params, night + timedelta(days=1), "1 % changed")
        peaks = peak_memory_mb()

        d = full.dunning  # the relay received each reminder and invoice email, and one digest of escalations
        emails = d.count("sent", "email") + d.count("sent", "invoice") + min(1, d.count("sent", "escalation"))
        read_s, send_s = floor(erp, ports["smtp_port"], rendered_reminders(email, emails))
    print("peak RSS over both nights: " + ", ".join(f"{name} {mb:,.0f} MB" for name, mb in peaks.items()),
          file=sys.stderr)
    floor_s = read_s + send_s
    print(json.dumps({
        "invoices": args.invoices, "customers": summary.rows["customer"],
        "warehouse": "postgresql" if args.postgres else "sqlite",
        "full_s": round(full_s, 1), "incremental_s": round(incremental_s, 1),
        "incremental_fraction": round(incremental_s / full_s, 3), "floor_s": round(floor_s, 1),
        "ratio": round(full_s / floor_s, 2), "peak_rss_mb": round(peaks["this process"]),
        "task_runs": task_runs}))


if __name__ == "__main__":
    main()
