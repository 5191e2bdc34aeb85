"""The whole dispute path on a real `prefect server` with its event and trigger services, a process worker and a
real SMTP relay: an invoice marked disputed in the ledger, the nightly's sync, the arpilot.invoice.disputed event,
the deployment trigger's dispute-escalation run, and exactly one email each to the AR manager and the sales rep.
Syncing the same dispute again emits nothing new; running the escalation again sends nothing twice."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from prefect_server import PREFECT, prefect_server

from sandbox.smtp_relay import CaptureSmtpServer

ROOT = Path(__file__).resolve().parent.parent
MANAGER, REP = "ar-manager@northwind.example", "kim.rep@northwind.example"

MAPPING = """\
source: erp
date_format: yyyy-mm-dd
currency: USD
customers:
  file: customers.csv
  columns: {customer_id: id, name: name, collector: collector, sales_rep: rep, time_zone: zone}
contacts:
  file: contacts.csv
  columns: {contact_id: id, customer_id: customer, role: role, name: name, email: email, phone: phone,
            verified_on: verified}
invoices:
  file: invoices.csv
  columns: {invoice_number: number, customer_id: customer, issue_date: issued, due_date: due, amount: amount,
            disputed: disputed, dispute_code: code, dispute_reason: reason}
"""

BLOCKS = """
import json, sys
from pydantic import SecretStr
from blocks import (ArWarehouse, CompanyProfile, ContactPolicy, DunningPolicy, EmailChannel, EscalationPolicy,
                    FileLedgerSource, ReportRecipients)
from blocks.escalation_policy import EscalationLevel
a = json.loads(sys.argv[1])
for block in (CompanyProfile(legal_name="Northwind Components Ltd", time_zone="America/Chicago"),
              ArWarehouse(url=a["warehouse"]), FileLedgerSource(mapping_path=a["mapping"]),
              ContactPolicy(output_dir=a["out"] + "/contacts"), DunningPolicy(output_dir=a["out"] + "/dunning",
                                                                       steps=[{"offset": 1, "channels": ["email"],
                                                                               "tone": "friendly"}]),
              EmailChannel(host="127.0.0.1", port=a["smtp_port"], security="none", username="relay-login",
                           password=SecretStr("relay-pw"), from_address="ar@northwind.example"),
              EscalationPolicy(ar_managers=[a["manager"]],
                               levels=[EscalationLevel(days=10, title="controller", to=["controller@northwind.example"])]),
              ReportRecipients(sales_reps={"Kim Rep": a["rep"]})):
    block.save("arpilot", overwrite=True)
"""

NIGHTLY = """
from flows.nightly import nightly
if __name__ == "__main__":
    nightly(ledger="arpilot-file-ledger/arpilot", escalation_policy="arpilot-escalation-policy/arpilot",
            twilio_channel=None)
"""


def run(args, env, timeout=300):
    result = subprocess.run(args, cwd=ROOT, env=env | {"PWD": str(ROOT)}, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout


def write_ledger(folder: Path) -> None:
    """Acme owes two invoices; the ERP marks I2 disputed, with the clerk's reason."""
    (folder / "customers.csv").write_text("id,name,collector,rep,zone\nC1,Acme Corp,Ann Lee,Kim Rep,America/New_York\n")
    (folder / "contacts.csv").write_text("id,customer,role,name,email,phone,verified\n"
                                         "K1,C1,AP,Pat Doe,ap@acme.example,+12125550142,2026-11-20\n")
    (folder / "invoices.csv").write_text("number,customer,issued,due,amount,disputed,code,reason\n"
                                         "I1,C1,2026-10-01,2026-10-31,400.00,no,,\n"
                                         "I2,C1,2026-10-05,2026-11-04,1250.00,yes,pricing,Unit price differs from the purchase order\n")
    (folder / "mapping.yaml").write_text(MAPPING)


def mails_to(relay: CaptureSmtpServer, address: str) -> list:
    return [m.message for m in relay.messages if address in m.rcpt_tos]


def wait_for(condition, seconds: float) -> float | None:
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        if condition():
            return time.monotonic()
        time.sleep(0.2)
    return None


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """A prefect server, the blocks named as prefect.yaml expects, the dispute-escalation deployment with its
    trigger, and a process worker polling its pool every 2 s (10 s by default)."""
    tmp = tmp_path_factory.mktemp("disputes-live")
    with CaptureSmtpServer(tmp / "mail", "relay-login", "relay-pw") as relay, \
            prefect_server(tmp / "prefect") as env:
        write_ledger(tmp)
        warehouse = f"sqlite:///{tmp / 'warehouse.sqlite'}"
        run([PREFECT, "block", "register", "-m", "blocks"], env)
        run([sys.executable, "-c", BLOCKS, json.dumps({
            "warehouse": warehouse, "mapping": str(tmp / "mapping.yaml"), "out": str(tmp / "out"),
            "smtp_port": relay.port, "manager": MANAGER, "rep": REP})], env)
        run([PREFECT, "work-pool", "create", "arpilot", "--type", "process"], env)
        run([PREFECT, "--no-prompt", "deploy", "--name", "dispute-escalation"], env)
        log = (tmp / "worker.log").open("w")
        worker = subprocess.Popen([PREFECT, "worker", "start", "--pool", "arpilot"], cwd=ROOT,
                                  env=env | {"PWD": str(ROOT), "PREFECT_WORKER_QUERY_SECONDS": "2"},
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            yield tmp, env, relay, sa.create_engine(warehouse)
        finally:
            worker.terminate()
            worker.wait(timeout=30)


def test_a_dispute_in_the_ledger_reaches_manager_and_rep_through_the_event_trigger_once(deployed):
    tmp, env, relay, engine = deployed
    run([sys.executable, "-c", NIGHTLY], env)
    synced = time.monotonic()
    with engine.connect() as conn:
        (announced,) = conn.execute(sa.text("SELECT announced_at FROM invoice_disputes")).scalars().all()
    arrived = wait_for(lambda: mails_to(relay, MANAGER) and mails_to(relay, REP), 90)
    assert arrived, (f"no dispute email within 90 s of the sync; runs: {run([sys.executable, '-c', FLOW_RUNS], env)}"
                     f"worker: {(tmp / 'worker.log').read_text()[-3000:]}")
    event_age = (datetime.now(UTC).replace(tzinfo=None) - datetime.fromisoformat(str(announced))).total_seconds()
    print(f"\ndispute event -> both emails at the relay: {event_age - (time.monotonic() - arrived):.1f} s "
          f"(nightly finished -> emails: {max(arrived - synced, 0):.1f} s)")
    time.sleep(1)
    (manager,), (rep,) = mails_to(relay, MANAGER), mails_to(relay, REP)
    for mail in (manager, rep):
        assert "invoice I2" in mail["Subject"] and "pricing" in mail["Subject"]
        assert "Unit price differs from the purchase order" in mail.get_body(("plain",)).get_content()
    runs = json.loads(run([sys.executable, "-c", FLOW_RUNS], env))
    assert runs == [["dispute-escalation-I2", "COMPLETED"]]

    run([sys.executable, "-c", NIGHTLY], env)  # the same dispute, synced again
    run([sys.executable, "-c", RUN_AGAIN], env)  # and its escalation run again by hand, through the worker
    time.sleep(1)
    assert len(mails_to(relay, MANAGER)) == 1 and len(mails_to(relay, REP)) == 1
    assert [r[0] for r in json.loads(run([sys.executable, "-c", FLOW_RUNS], env))] == ["dispute-escalation-I2"] * 2


FLOW_RUNS = """
import asyncio, json
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName
async def main():
    async with get_client() as client:
        runs = await client.read_flow_runs(deployment_filter=DeploymentFilter(
            name=DeploymentFilterName(any_=["dispute-escalation"])))
        print(json.dumps([[r.name, r.state_type.value] for r in runs]))
asyncio.run(main())
"""

RUN_AGAIN = """
from prefect.deployments import run_deployment
run = run_deployment("dispute-escalation/dispute-escalation", parameters={"invoice": "arpilot.invoice.I2"}, timeout=120)
assert run.state.is_completed(), run.state
"""
