"""The controller's alerts on a real `prefect server` with its automation services, a process worker and a real SMTP
relay: the automations of automations.yaml installed by `arpilot alerts install`, a deployed nightly whose ledger
is unreachable, and the alert email (run, error, runbook link, UI link, no secret) at the relay within a minute of
the run failing; a nightly that does not complete in its window brings one "late" email.

The server loads the alert email block through arpilot's `prefect.collections` entry point, as it does wherever
arpilot is installed beside it (here the test environment's editable install, as `make test` makes it)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest
import yaml
from prefect_server import PREFECT, prefect_server
from test_production_install import mails_to, run, wait_for

from sandbox.smtp_relay import CaptureSmtpServer
from tasks.alerts.automations import read_automations

ROOT = Path(__file__).resolve().parent.parent
CONTROLLER = "controller@northwind.example"
DOCS = "https://git.northwind.example/finance/arpilot/-/blob/main/README.md"
LATE_WINDOW = 10  # seconds; 4 hours in automations.yaml

BLOCKS = """
import asyncio, json, sys
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from pydantic import SecretStr
from blocks import AlertEmail, ArWarehouse, CompanyProfile, ContactPolicy, EmailChannel, SqlLedgerSource
a = json.loads(sys.argv[1])
email = EmailChannel(host="127.0.0.1", port=a["smtp_port"], security="none", username="relay-login",
                     password=SecretStr("relay-pw"), from_address="ar@northwind.example")
for block in (CompanyProfile(legal_name="Northwind Components Ltd", time_zone="America/Chicago"),
              ArWarehouse(url=a["warehouse"]), ContactPolicy(output_dir=a["out"] + "/contacts"), email,
              SqlLedgerSource(url="postgresql+psycopg://ar@127.0.0.1:9/erp", password=SecretStr("ledger-pw"),
                              retries=0),
              AlertEmail(email_channel=email, to=[a["controller"]], runbook_url=a["docs"])):
    block.save("arpilot", overwrite=True)


async def pool():  # the nightly's pool, and a queue the worker finds paused
    async with get_client() as client:
        await client.create_work_pool(WorkPoolCreate(name="arpilot", type="process"))
        await client.create_work_queue("held", is_paused=True, work_pool_name="arpilot")
asyncio.run(pool())
"""

START_NIGHTLY = """
import json, sys
from prefect.deployments import run_deployment
print(json.dumps([str(run_deployment("nightly/nightly", parameters={
    "credit_policy": None, "payment_gateway": None, "autopay_policy": None, "escalation_policy": None},
    timeout=0, work_queue_name=queue).id) for queue in sys.argv[1:]]))
"""


def flow_run(env: dict, run_id: str) -> dict:
    with urllib.request.urlopen(f"{env['PREFECT_API_URL']}/flow_runs/{run_id}", timeout=10) as response:
        return json.load(response)


def short_late_window(automations: list[dict]) -> list[dict]:
    """The late alert with a LATE_WINDOW-second window, watching the held queue only: on a busy machine the failing
    nightly may take longer than that to start, and would be late as well."""
    (late,) = [a for a in automations if a["name"] == "arpilot nightly late"]
    late["trigger"]["within"] = LATE_WINDOW
    late["trigger"]["match_related"] = [late["trigger"]["match_related"],
                                        {"prefect.resource.role": "work-queue", "prefect.resource.name": "held"}]
    return automations


@pytest.fixture(scope="module")
def alerting(tmp_path_factory):
    """A prefect server that marks runs Late after 2 s, the arpilot blocks (saving one registers its type), the
    nightly deployed, the alerts installed from automations.yaml, and a worker polling every 2 s."""
    tmp = tmp_path_factory.mktemp("alerts-live")
    server_env = {"PYTHONPATH": str(ROOT),
                  "PREFECT_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS": "2",
                  "PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS": "1"}
    with CaptureSmtpServer(tmp / "mail", "relay-login", "relay-pw") as relay, \
            prefect_server(tmp / "prefect", server_env=server_env) as env:
        env = env | {"PYTHONPATH": str(ROOT)}
        refused = subprocess.run([sys.executable, "-m", "flows.cli", "alerts", "install"], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=300)  # before its block exists: says so
        assert refused.returncode == 1 and "block arpilot-alert-email/arpilot does not exist" in refused.stderr
        run([sys.executable, "-c", BLOCKS, json.dumps({
            "warehouse": f"sqlite:///{tmp / 'warehouse.sqlite'}", "out": str(tmp / "out"), "smtp_port": relay.port,
            "controller": CONTROLLER, "docs": DOCS})], env)
        (tmp / "automations.yaml").write_text(yaml.safe_dump({"automations": short_late_window(read_automations())}))
        install = subprocess.Popen([sys.executable, "-m", "flows.cli", "alerts", "install", "--file",
                                    str(tmp / "automations.yaml")], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True)  # beside the deploy: they are independent
        log = (tmp / "worker.log").open("w")
        worker = subprocess.Popen([PREFECT, "worker", "start", "--pool", "arpilot", "--work-queue", "default"],
                                  cwd=ROOT, env=env | {"PWD": str(ROOT), "PREFECT_WORKER_QUERY_SECONDS": "2"},
                                  stdout=log, stderr=subprocess.STDOUT)
        run([PREFECT, "--no-prompt", "deploy", "--name", "nightly"], env)
        installed = install.communicate(timeout=300)[0]
        assert install.returncode == 0 and "arpilot run failed, arpilot nightly late" in installed, installed
        try:
            yield tmp, env, relay
        finally:
            worker.terminate()
            worker.wait(timeout=30)


def alerts(relay: CaptureSmtpServer, word: str) -> list:
    return [m for m in mails_to(relay, CONTROLLER) if word in m["Subject"]]


def test_a_failed_nightly_and_a_late_one_each_reach_the_controller_by_email(alerting):
    tmp, env, relay = alerting
    # the first starts at once and fails: its ledger is unreachable; the second waits in the paused queue: late
    failing, held = json.loads(run([sys.executable, "-c", START_NIGHTLY, "default", "held"], env))
    arrived = wait_for(lambda: alerts(relay, "Failed"), 120)
    assert arrived, (f"no alert; run: {flow_run(env, failing)['state']}; relay: "
                     f"{[m['Subject'] for m in relay.messages]}; worker: {(tmp / 'worker.log').read_text()[-3000:]}")
    failed = flow_run(env, failing)
    name, failed_at = failed["name"], datetime.fromisoformat(failed["state"]["timestamp"])
    seconds = time.time() - (time.monotonic() - arrived) - failed_at.timestamp()
    print(f"\nnightly Failed -> alert email at the relay: {seconds:.1f} s")
    assert seconds < 60

    (mail,) = alerts(relay, "Failed")
    body = mail.get_body(("plain",)).get_content()
    assert mail["Subject"] == f"arpilot: {name} Failed"
    assert f"The arpilot run {name} (nightly, deployment nightly) is Failed." in body
    assert "ledger source erp (postgresql+psycopg://ar:***@127.0.0.1:9/erp) is unreachable" in body
    assert f"Runbook: {DOCS}#runbook-ledger-unreachable" in body  # the error's own entry
    assert f"What to do: {DOCS}#runbook-run-failed" in body
    assert f"{env['PREFECT_API_URL'].removesuffix('/api')}/runs/flow-run/{failing}" in body
    assert "relay-pw" not in body and "ledger-pw" not in body

    late = wait_for(lambda: alerts(relay, "late"), 45)
    assert late, f"no late alert; relay: {[m['Subject'] for m in relay.messages]}"
    time.sleep(2)
    (mail,) = alerts(relay, "late")
    body = mail.get_body(("plain",)).get_content()
    assert "has not completed: it is Late" in body and f"{DOCS}#runbook-nightly-late" in body
    assert f"/runs/flow-run/{held}" in body
    assert len(mails_to(relay, CONTROLLER)) == 2
