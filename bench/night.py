"""A nightly run as the benches run it: the sample ERP and a warehouse as blocks, the embedded SMTP relay and Twilio
API (`python -m sandbox`) in a process of their own on loopback, a fixed send instant, and what the Prefect API says
the run did. Importing this module points Prefect at the benches' own state (var/bench-prefect)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from datetime import date, datetime, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from flows.local_prefect import use_local_prefect  # noqa: E402

use_local_prefect("bench-prefect")  # not the demo's runs
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")

from prefect.client.orchestration import get_client  # noqa: E402
from prefect.client.schemas.filters import (  # noqa: E402
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterParentFlowRunId,
)
from pydantic import SecretStr  # noqa: E402

from blocks.company import CompanyProfile  # noqa: E402
from blocks.contact_policy import ContactPolicy  # noqa: E402
from blocks.dunning_policy import DunningPolicy  # noqa: E402
from blocks.email_channel import EmailChannel  # noqa: E402
from blocks.ledger import SqlLedgerSource  # noqa: E402
from blocks.twilio_channel import TwilioChannel  # noqa: E402
from blocks.warehouse import ArWarehouse  # noqa: E402
from tasks.dunning.messages import email_message, render  # noqa: E402
from tasks.dunning.plan import CoveredInvoice, PlannedMessage, Recipient  # noqa: E402

NAME = "bench"
SID, TOKEN = "AC" + "3" * 32, "bench-token"
COMPANY = CompanyProfile(legal_name="Northwind Components Ltd", time_zone="America/Chicago")


def start_sandbox(folder: Path) -> tuple[subprocess.Popen, dict]:
    """The SMTP relay and Twilio-compatible API in their own process; their ports."""
    server = subprocess.Popen([sys.executable, "-m", "sandbox", "--folder", str(folder), "--account-sid", SID,
                               "--auth-token", TOKEN, "--smtp-user", "bench", "--smtp-password", "bench-pw"],
                              stdout=subprocess.PIPE, text=True, cwd=ROOT)
    return server, json.loads(server.stdout.readline())


def save_blocks(erp: Path, warehouse_url: str, out: Path, ports: dict) -> tuple[EmailChannel, dict]:
    """Save the nightly's blocks under the name "bench"; the email channel and the nightly's block parameters."""
    email = EmailChannel(host="127.0.0.1", port=ports["smtp_port"], security="none", username="bench",
                         password=SecretStr("bench-pw"), from_address="ar@northwind.example")
    for block in (COMPANY, SqlLedgerSource(source_name="bench-erp", url=f"sqlite:///{erp}"),
                  ArWarehouse(url=warehouse_url), ContactPolicy(output_dir=str(out / "contacts")),
                  DunningPolicy(output_dir=str(out / "dunning"), escalation_to=["ar-manager@northwind.example"]),
                  email, TwilioChannel(account_sid=SID, auth_token=SecretStr(TOKEN), from_number="+13125550100",
                                       api_base_url=ports["twilio_url"])):
        block.save(NAME, overwrite=True)
    return email, {"ledger": f"arpilot-sql-ledger/{NAME}", "warehouse": f"arpilot-ar-warehouse/{NAME}",
                   "company": f"arpilot-company-profile/{NAME}", "contact_policy": f"arpilot-contact-policy/{NAME}",
                   "dunning_policy": f"arpilot-dunning-policy/{NAME}", "email_channel": f"arpilot-email-channel/{NAME}",
                   "twilio_channel": f"arpilot-twilio-channel/{NAME}"}


def send_instant(day: date) -> datetime:
    """11:00 of that day on this machine's clock: the same instant whatever the time of day the bench runs, so the
    contacts' local send windows (and so what is sent) do not depend on when it runs."""
    return datetime.combine(day, time(11)).astimezone()


async def night_runs(nightly_id) -> tuple[list, list]:
    """The nightly run's subflow runs and every task run of it and its subflows (the API pages by 200)."""
    async with get_client() as client:
        children = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[nightly_id])))
        ids = [nightly_id, *(c.id for c in children)]
        runs, page = [], None
        while page is None or len(page) == 200:
            page = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=ids)),
                                               limit=200, offset=len(runs))
            runs += page
    return children, runs


def stage_seconds(nightly_id, children: list, task_runs: list) -> list[tuple[str, str, float, int]]:
    """(flow, stage, wall seconds, task runs) per task name of each flow run, in the order the stages started;
    a subflow is a task run of the nightly run, with its own stages listed after the nightly's."""
    flows = {nightly_id: "nightly", **{c.id: c.name for c in children}}
    groups: dict[tuple, list] = defaultdict(list)
    for run in task_runs:
        if run.start_time and run.end_time:
            groups[(run.flow_run_id, run.name.rsplit("-", 1)[0])].append((run.start_time, run.end_time))
    rows = [(min(s for s, _ in spans), flows.get(flow_id, "?"), name,
             (max(e for _, e in spans) - min(s for s, _ in spans)).total_seconds(), len(spans))
            for (flow_id, name), spans in groups.items()]
    return [row[1:] for row in sorted(rows, key=lambda r: (r[1] != "nightly", r[1], r[0]))]


def reset_peak_memory() -> None:
    """Start this process's peak-RSS count afresh (Linux), so what came before (the ERP's generation) is not in it."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_memory_mb() -> dict[str, float]:
    """Peak RSS (VmHWM) of this process and of each child process (the local servers) by command, in MB. Not
    getrusage's children figure: a child spawned by a big process inherits that process's peak at exec."""
    def peak(pid: str) -> float:
        status = Path(f"/proc/{pid}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmHWM:")).split()[1]) / 1024

    children = [c for task in Path("/proc/self/task").iterdir() for c in (task / "children").read_text().split()]
    named = {"this process": peak("self")}
    for pid in children:
        command = Path(f"/proc/{pid}/cmdline").read_text().split("\0")
        named[command[2] if command[1] == "-m" else Path(command[0]).name] = peak(pid)  # sandbox, uvicorn (Prefect)
    return named


def rendered_reminders(channel: EmailChannel, count: int) -> list:
    """count firm reminders of three invoices each, rendered and built as the send batches build them."""
    policy = DunningPolicy()
    mails = []
    for n in range(count):
        m = PlannedMessage(f"C{n}", f"Customer {n}", "Ann Lee", "USD", 30, "email", "firm", "31-60", date.today(),
                           [CoveredInvoice(f"INV-{n}-{i}", date(2026, 10, 1), 12_345 * (i + 1), 35, 30)
                            for i in range(3)], [Recipient(f"K{n}", "Pat Doe", f"ap@c{n}.example", "UTC")])
        mails.append(email_message(m, render(m, COMPANY, policy), channel.from_address, "AR", None, policy,
                                   datetime.now().astimezone()))
    return mails
