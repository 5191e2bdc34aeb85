"""Dunning at scale: plan time, send throughput, and how many task runs a whole nightly run creates.

    .venv/bin/python bench/dunning.py --invoices 1000000

1. A sample ERP with that many invoices is generated (untimed), and the embedded SMTP relay and Twilio API
   (`python -m sandbox`) start in their own process on loopback.
2. The nightly flow runs once, for real: sync into an empty SQLite warehouse, contact checks, then dunning,
   which sends every planned message to those servers.
     plan_s     the age-open-invoices and plan-dunning task runs (read open AR, age it, plan every customer)
     messages   messages planned (email, SMS, voice, call-list entries, escalations)
     task_runs  task runs of the nightly flow run and its dunning subflow run, read from the Prefect API
3. Throughput of sending rendered reminders to the relay, as each send batch does it (one connection for the
   batch) and naively (a new connection and login per message):
     send_per_s_reuse, send_per_s_naive   messages per second
The last line printed is a JSON object with these figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.night import night_runs, rendered_reminders, save_blocks, send_instant, start_sandbox  # noqa: E402
from blocks.email_channel import EmailChannel  # noqa: E402
from flows.nightly import nightly  # noqa: E402
from sandbox.sample_erp import generate  # noqa: E402
from tasks.dunning.channels import EmailSender  # noqa: E402


def planning_seconds(task_runs: list) -> dict[str, float]:
    """Seconds of the two planning task runs."""
    seconds = {}
    for run in task_runs:
        for name in ("age-open-invoices", "plan-dunning"):
            if run.name.startswith(name) and run.total_run_time:
                seconds[name] = run.total_run_time.total_seconds()
    return seconds


def throughput(channel: EmailChannel, count: int) -> tuple[float, float]:
    mails = rendered_reminders(channel, count)
    sender = EmailSender(channel, "bench")
    started = time.perf_counter()
    for mail in mails:
        sender.send(mail, channel.from_address, [mail["To"]], lambda: None)
    sender.close()
    reuse = count / (time.perf_counter() - started)
    started = time.perf_counter()
    for mail in mails:
        client = channel.connect()
        client.smtp.send_message(mail, channel.from_address, [mail["To"]])
        client.smtp.quit()
    naive = count / (time.perf_counter() - started)
    return reuse, naive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--send-sample", type=int, default=2_000, help="messages per throughput measurement")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="arpilot-bench-") as tmp:
        tmp = Path(tmp)
        print(f"Generating a sample ERP with {args.invoices:,} invoices ...", file=sys.stderr)
        summary = generate(tmp / "erp.sqlite", invoices=args.invoices, seed=args.seed)
        server, ports = start_sandbox(tmp / "received")
        try:
            email, params = save_blocks(tmp / "erp.sqlite", f"sqlite:///{tmp / 'warehouse.sqlite'}", tmp, ports)
            print("Nightly run: sync, contact checks, dunning ...", file=sys.stderr)
            started = time.perf_counter()
            state = nightly(**params, now=send_instant(date.today()), return_state=True)
            nightly_s = time.perf_counter() - started
            result = state.result()
            _, runs = asyncio.run(night_runs(state.state_details.flow_run_id))
            task_runs, seconds = len(runs), planning_seconds(runs)
            d = result.dunning
            print(f"  nightly {nightly_s:.1f} s; {d.planned:,} messages planned, {d.count('sent'):,} sent, "
                  f"{d.count('failed'):,} failed, {len(d.skipped):,} held back; aging "
                  f"{seconds.get('age-open-invoices', 0):.2f} s, planning {seconds.get('plan-dunning', 0):.2f} s",
                  file=sys.stderr)
            print(f"Sending {args.send_sample:,} reminders to the local relay, reusing one connection and "
                  f"then one connection per message ...", file=sys.stderr)
            reuse, naive = throughput(email, args.send_sample)
        finally:
            server.terminate()
            server.wait(10)
    print(json.dumps({"invoices": args.invoices, "customers": summary.rows["customer"],
                      "plan_s": round(seconds.get("age-open-invoices", 0) + seconds.get("plan-dunning", 0), 2),
                      "messages": d.planned, "send_per_s_reuse": round(reuse, 1), "send_per_s_naive": round(naive, 1),
                      "task_runs": task_runs}))


if __name__ == "__main__":
    main()
