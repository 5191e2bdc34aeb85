"""Dunning at scale: plan time, send throughput, and how many task runs a whole nightly run creates, with the send
batches and contact normalisation on threads or on a Dask cluster.

    .venv/bin/python bench/dunning.py --invoices 1000000 [--task-runner threads|dask|tcp://scheduler:8786]

1. A sample ERP with that many invoices is generated (untimed), and the embedded SMTP relay and Twilio API
   (`python -m sandbox`) start in their own process on loopback.
2. The nightly flow runs once, for real, on a `prefect server` the bench starts (Dask workers need a real API;
   PREFECT_API_URL names another), with the task_runner given: sync into an empty SQLite warehouse, contact checks,
   then dunning, which sends every planned message to those servers.
     plan_s       the age-open-invoices and plan-dunning task runs (read open AR, age it, plan every customer)
     normalize_s  contact normalisation, first task run started to last ended (every contact is new)
     messages     messages planned (email, SMS, voice, call-list entries, escalations)
     send_s       first send batch started to last one ended; sends_per_s: messages sent / send_s
     task_runs    task runs of the nightly flow run and its dunning subflow run, read from the Prefect API
     peak_rss_mb  this process's peak memory; peak_worker_rss_mb the largest Dask worker's (null on threads, or when
                  no worker grew past the helper processes that ended before the nightly)
3. Throughput of sending rendered reminders to the relay, as each send batch does it (one connection for the
   batch) and naively (a new connection and login per message):
     send_per_s_reuse, send_per_s_naive   messages per second
The last line printed is a JSON object with these figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from prefect_server import prefect_server  # noqa: E402

from bench.night import night_runs, rendered_reminders, save_blocks, send_instant, start_sandbox  # noqa: E402
from blocks.email_channel import EmailChannel  # noqa: E402
from flows.nightly import nightly  # noqa: E402
from sandbox.sample_erp import generate  # noqa: E402
from tasks.dunning.channels import EmailSender  # noqa: E402


def stage_seconds(task_runs: list) -> dict[str, float]:
    """Seconds of the two planning task runs; of contact normalisation and of the sends, each from its first task
    run started to its last one ended."""
    seconds = {}
    for run in task_runs:
        for name in ("age-open-invoices", "plan-dunning"):
            if run.name.startswith(name) and run.total_run_time:
                seconds[name] = run.total_run_time.total_seconds()
    for stage, names in (("normalize", ("changed-contacts", "normalize-contact-part", "save-contact-profiles")),
                         ("send", ("send-",))):
        stage_runs = [r for r in task_runs if r.name.startswith(names) and r.start_time and r.end_time]
        if stage_runs:
            first, last = min(r.start_time for r in stage_runs), max(r.end_time for r in stage_runs)
            seconds[stage] = (last - first).total_seconds()
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
    parser.add_argument("--task-runner", default="threads", help="the nightly's task_runner: threads, dask (a cluster "
                        "of one worker process per core, for the run), a scheduler address or a block name")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="arpilot-bench-") as tmp, real_prefect(Path(tmp)):
        tmp = Path(tmp)
        print(f"Generating a sample ERP with {args.invoices:,} invoices ...", file=sys.stderr)
        summary = generate(tmp / "erp.sqlite", invoices=args.invoices, seed=args.seed)
        server, ports = start_sandbox(tmp / "received")
        try:
            email, params = save_blocks(tmp / "erp.sqlite", f"sqlite:///{tmp / 'warehouse.sqlite'}", tmp, ports)
            params |= {"now": send_instant(date.today()), "task_runner": args.task_runner}
            print("Nightly run: sync, contact checks, dunning ...", file=sys.stderr)
            started, children_before = time.perf_counter(), _children_peak_mb()
            state = nightly(**params, return_state=True)
            nightly_s = time.perf_counter() - started
            result = state.result()
            _, runs = asyncio.run(night_runs(state.state_details.flow_run_id))
            task_runs, seconds = len(runs), stage_seconds(runs)
            d = result.dunning
            peak_worker = _children_peak_mb()  # the run's cluster has ended
            peak_worker = round(peak_worker) if peak_worker > children_before else None
            print(f"  nightly {nightly_s:.1f} s; {d.planned:,} messages planned, {d.count('sent'):,} sent, "
                  f"{d.count('failed'):,} failed, {len(d.skipped):,} held back; aging "
                  f"{seconds.get('age-open-invoices', 0):.2f} s, planning {seconds.get('plan-dunning', 0):.2f} s, "
                  f"sending {seconds.get('send', 0):.1f} s", file=sys.stderr)
            print(f"Sending {args.send_sample:,} reminders to the local relay, reusing one connection and "
                  f"then one connection per message ...", file=sys.stderr)
            reuse, naive = throughput(email, args.send_sample)
        finally:
            server.terminate()
            server.wait(10)
    send_s = seconds.get("send", 0)
    print(json.dumps({"invoices": args.invoices, "customers": summary.rows["customer"], "task_runner": args.task_runner,
                      "nightly_s": round(nightly_s, 1),
                      "plan_s": round(seconds.get("age-open-invoices", 0) + seconds.get("plan-dunning", 0), 2),
                      "normalize_s": round(seconds.get("normalize", 0), 2), "messages": d.planned,
                      "sent": d.count("sent"), "send_s": round(send_s, 1),
                      "sends_per_s": round(d.count("sent") / send_s, 1) if send_s else None,
                      "send_per_s_reuse": round(reuse, 1), "send_per_s_naive": round(naive, 1), "task_runs": task_runs,
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
                      "peak_worker_rss_mb": peak_worker}))


def _children_peak_mb() -> float:
    """The peak memory of the largest process this one started that has ended."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


@contextmanager
def real_prefect(folder: Path):
    """A `prefect server` of the bench's own, unless PREFECT_API_URL names one."""
    if os.environ.get("PREFECT_API_URL"):
        yield
        return
    from prefect.settings import PREFECT_API_URL, temporary_settings  # after bench.night chose the bench's state

    print("Starting a Prefect server ...", file=sys.stderr)
    with prefect_server(folder / "prefect") as env:
        os.environ["PREFECT_API_URL"] = env["PREFECT_API_URL"]  # for the Dask workers this process starts
        with temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}):
            yield


if __name__ == "__main__":
    main()
