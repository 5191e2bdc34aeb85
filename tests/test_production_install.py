"""A production install, end to end: `prefect server` on PostgreSQL (the AR warehouse there too), the blocks, a
process work pool, `prefect deploy --all` and a worker; the nightly deployment run through the worker, a disputed
invoice reaching the AR manager and the sales rep through the dispute-escalation trigger exactly once, and the
controller's morning in the Prefect UI (Playwright driving Debian's chromium): a failed nightly's error and
artifacts, then the dunning plan of the run that completed. Screenshots go to var/ui/."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import yaml
from playwright import sync_api as playwright
from postgres_server import scratch_database
from prefect_server import PREFECT, prefect_server
from test_nightly_flow import _break_every_contact

from sandbox.sample_erp import generate
from sandbox.smtp_relay import CaptureSmtpServer
from sandbox.stripe_api import StripeTestServer
from sandbox.twilio_api import SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN, TwilioTestServer

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "var" / "ui"
MANAGER, REP, CLERK = "ar-manager@northwind.example", "kim.rep@northwind.example", "ap@acme.example"

BLOCKS = """
import json, sys
from pydantic import SecretStr
from blocks import (ArWarehouse, AutopayPolicy, CompanyProfile, ContactPolicy, CreditPolicy, DunningPolicy,
                    EmailChannel, EscalationPolicy, ReportRecipients, SqlLedgerSource, TwilioChannel)
from blocks.escalation_policy import EscalationLevel
from flows.demo import demo_gateway
a = json.loads(sys.argv[1])
for block in (CompanyProfile(legal_name="Northwind Components Ltd", time_zone="America/Chicago"),
              SqlLedgerSource(source_name="erp", url="sqlite:///" + a["erp"]), ArWarehouse(url=a["warehouse"]),
              ContactPolicy(output_dir=a["out"] + "/contacts"),
              DunningPolicy(output_dir=a["out"] + "/dunning", steps=[{"offset": 1, "channels": ["email"],
                                                                      "tone": "friendly"}]),
              EmailChannel(host="127.0.0.1", port=a["smtp_port"], security="none", username="relay-login",
                           password=SecretStr("relay-pw"), from_address="ar@northwind.example"),
              TwilioChannel(account_sid=a["twilio_sid"], auth_token=SecretStr(a["twilio_token"]),
                            from_number="+13125550100", api_base_url=a["twilio_url"]),
              demo_gateway(a["stripe_url"]), AutopayPolicy(export_dir=a["out"] + "/autopay"),
              EscalationPolicy(ar_managers=[a["manager"]],
                               levels=[EscalationLevel(days=10, title="controller", to=["controller@northwind.example"])]),
              CreditPolicy(export_dir=a["out"] + "/credit"),
              ReportRecipients(sales_reps={"Kim Rep": a["rep"]}, output_dir=a["out"] + "/reports")):
    block.save("arpilot", overwrite=True)
"""

RUN = """
import json, sys
from prefect.deployments import run_deployment
run = run_deployment(sys.argv[1], parameters=json.loads(sys.argv[2]), timeout=300)
print(json.dumps({"id": str(run.id), "name": run.name, "state": run.state.type.value, "message": run.state.message}))
"""

DEPLOYMENTS = """
import asyncio, json
from prefect.client.orchestration import get_client
async def main():
    async with get_client() as client:
        deployments = {d.name: d for d in await client.read_deployments()}
        runs = [r for r in await client.read_flow_runs() if r.deployment_id]  # not the nightly's subflows
    nightly = deployments["nightly"]
    print(json.dumps({
        "names": sorted(deployments),
        "nightly": {"schedules": [{"cron": s.schedule.cron, "timezone": s.schedule.timezone, "active": s.active}
                                  for s in nightly.schedules],
                    "concurrency_limit": nightly.global_concurrency_limit.limit,
                    "work_pool": nightly.work_pool_name, "entrypoint": nightly.entrypoint,
                    "parameters": nightly.parameters},
        "runs": sorted([next(n for n, d in deployments.items() if d.id == r.deployment_id), r.name, r.state_type.value]
                       for r in runs),
    }))
asyncio.run(main())
"""

def run(args, env, timeout=300):
    result = subprocess.run(args, cwd=ROOT, env=env | {"PWD": str(ROOT)}, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout


def write_erp(path: Path, today: date) -> None:
    """One customer, Acme Corp (sales rep Kim Rep), owing two invoices in USD: I1 20 days overdue, and I2, which
    the ERP marks disputed with the clerk's reason; the AP contact was verified last week."""
    generate(path, invoices=10, customers=1, bad_rows=0)  # the ERP's schema; its rows are replaced below
    day = lambda days: (today - timedelta(days=days)).isoformat()  # noqa: E731
    with closing(sqlite3.connect(path)) as conn, conn:
        for table in ("allocation", "payment", "credit_note", "invoice", "contact", "customer"):
            conn.execute(f"DELETE FROM {table}")
        conn.execute("INSERT INTO customer VALUES ('C1', 'Acme Corp', 'US', 'New York', 'America/New_York', 'USD', 30, "
                     "100000, 'Ann Lee', 'Kim Rep', 0, 0, NULL, 0, 0, ?)", (day(40),))
        conn.execute("INSERT INTO contact VALUES (1, 'C1', 'AP', 'Pat', 'Doe', ?, '+1 212 555 0142', "
                     "'America/New_York', ?, NULL, 0, 0, 0, ?)", (CLERK, day(7), day(7)))
        conn.executemany("INSERT INTO invoice VALUES (?, 'C1', ?, ?, 'USD', ?, ?, 'open', ?, NULL, ?, ?, ?)", [
            ("I1", day(50), day(20), 400, 400, 0, None, None, day(50)),
            ("I2", day(58), day(28), 1250, 1250, 1, "pricing", "Unit price differs from the purchase order", day(1))])


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
def installed(tmp_path_factory, postgres_url):
    """Installed as the README's Deploy section says: the server and the warehouse on PostgreSQL, every block
    prefect.yaml's deployments name (channels on the local SMTP relay, Twilio-compatible API and Stripe), the
    process pool, `prefect deploy --all` and a worker polling every 2 s (10 s by default)."""
    tmp = tmp_path_factory.mktemp("production-install")
    today = datetime.now(UTC).date()
    with scratch_database(postgres_url, "prefect") as prefect_db, scratch_database(postgres_url, "wh") as warehouse, \
            CaptureSmtpServer(tmp / "mail", "relay-login", "relay-pw") as relay, \
            TwilioTestServer(tmp / "twilio", SANDBOX_ACCOUNT_SID, SANDBOX_AUTH_TOKEN) as twilio, \
            StripeTestServer() as stripe, \
            prefect_server(tmp / "prefect", sa.make_url(prefect_db).set(drivername="postgresql+asyncpg")
                           .render_as_string(hide_password=False)) as server_env:
        env = server_env | {"PYTHONPATH": str(ROOT)}
        write_erp(tmp / "erp.sqlite", today)
        registered = run([PREFECT, "block", "register", "-m", "blocks"], env)
        run([sys.executable, "-c", BLOCKS, json.dumps({
            "erp": str(tmp / "erp.sqlite"), "warehouse": warehouse, "out": str(tmp / "out"),
            "smtp_port": relay.port, "twilio_sid": SANDBOX_ACCOUNT_SID, "twilio_token": SANDBOX_AUTH_TOKEN,
            "twilio_url": twilio.base_url, "stripe_url": stripe.base_url, "manager": MANAGER, "rep": REP})], env)
        run([PREFECT, "work-pool", "create", "arpilot", "--type", "process"], env)
        run([PREFECT, "--no-prompt", "deploy", "--all"], env)
        log = (tmp / "worker.log").open("w")
        worker = subprocess.Popen([PREFECT, "worker", "start", "--pool", "arpilot"], cwd=ROOT,
                                  env=env | {"PWD": str(ROOT), "PREFECT_WORKER_QUERY_SECONDS": "2"},
                                  stdout=log, stderr=subprocess.STDOUT)
        try:
            yield SimpleNamespace(tmp=tmp, env=env, relay=relay, registered=registered, erp=tmp / "erp.sqlite",
                                  warehouse=sa.create_engine(warehouse), ui=env["PREFECT_API_URL"].removesuffix("/api"))
        finally:
            worker.terminate()
            worker.wait(timeout=30)


def verify_contacts(erp: Path) -> None:
    """The collector has checked every AP contact with the customer today, in the ERP."""
    with closing(sqlite3.connect(erp)) as conn, conn:
        conn.execute("UPDATE contact SET verified_on = date('now'), updated_at = datetime('now')")


def run_nightly(install) -> dict:
    """The nightly deployment with its deployed parameters, judged at noon company time (inside every send window)."""
    noon = datetime.now(UTC).replace(hour=18, minute=0, second=0, microsecond=0)  # midday in Chicago
    return json.loads(run([sys.executable, "-c", RUN, "nightly/nightly", json.dumps({"now": noon.isoformat()})],
                          install.env))


def test_a_production_install_runs_the_nightly_through_its_worker_and_fires_the_dispute_trigger(installed):
    env, relay = installed.env, installed.relay
    assert all(name in installed.registered for name in ("arpilot SQL ledger", "arpilot file ledger",
                                                         "arpilot AR warehouse", "arpilot company profile"))
    deployed = json.loads(run([sys.executable, "-c", DEPLOYMENTS], env))
    assert {d["name"] for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]} <= set(
        deployed["names"])
    assert deployed["nightly"] | {"parameters": None} == {
        "schedules": [{"cron": "0 2 * * *", "timezone": "America/Chicago", "active": True}], "concurrency_limit": 1,
        "work_pool": "arpilot", "entrypoint": "flows/nightly.py:nightly", "parameters": None}
    assert deployed["nightly"]["parameters"]["ledger"] == "arpilot-sql-ledger/arpilot"

    _break_every_contact(installed.erp)
    failed = run_nightly(installed)
    synced = time.monotonic()
    assert failed["state"] == "FAILED" and "Contact gate closed" in failed["message"]
    with installed.warehouse.connect() as conn:
        (announced,) = conn.execute(sa.text("SELECT announced_at FROM invoice_disputes")).scalars().all()
    arrived = wait_for(lambda: mails_to(relay, MANAGER) and mails_to(relay, REP), 90)
    assert arrived, f"no dispute email within 90 s of the sync; worker: {(installed.tmp / 'worker.log').read_text()[-3000:]}"
    event_age = (datetime.now(UTC).replace(tzinfo=None) - datetime.fromisoformat(str(announced))).total_seconds()
    print(f"\ndispute event -> both emails at the relay: {event_age - (time.monotonic() - arrived):.1f} s "
          f"(nightly finished -> emails: {max(arrived - synced, 0):.1f} s)")
    for mail in (*mails_to(relay, MANAGER), *mails_to(relay, REP)):
        assert "invoice I2" in mail["Subject"] and "pricing" in mail["Subject"]
        assert "Unit price differs from the purchase order" in mail.get_body(("plain",)).get_content()
    assert mails_to(relay, CLERK) == []  # the gate held every reminder

    verify_contacts(installed.erp)
    completed = run_nightly(installed)  # syncs the same dispute again
    assert completed["state"] == "COMPLETED", completed
    (reminder,) = mails_to(relay, CLERK)
    text = reminder.get_body(("plain",)).get_content()
    assert "I1" in text and "I2" not in text  # a disputed invoice is never dunned
    run([sys.executable, "-c", RUN, "dispute-escalation/dispute-escalation",
         json.dumps({"invoice": "arpilot.invoice.I2"})], env)  # its escalation run again by hand, through the worker
    time.sleep(1)
    assert len(mails_to(relay, MANAGER)) == 1 and len(mails_to(relay, REP)) == 1
    runs = json.loads(run([sys.executable, "-c", DEPLOYMENTS], env))["runs"]
    of = lambda deployment: [r[1:] for r in runs if r[0] == deployment]  # noqa: E731
    assert of("dispute-escalation") == [["dispute-escalation-I2", "COMPLETED"]] * 2  # the trigger's, and by hand
    assert of("nightly") == [[completed["name"], "COMPLETED"], [failed["name"], "FAILED"]]
    assert [state for _, state in of("autopay-charges")] == ["SCHEDULED"]  # the next charge day's, by the nightly

    controllers_morning_in_the_ui(installed.ui, failed, completed)


def controllers_morning_in_the_ui(ui: str, failed: dict, completed: dict) -> None:
    """The Prefect UI the server serves (its default, the V2 UI): the failed nightly says what went wrong and what
    to do, and lists its artifacts; the completed one's dunning plan reads as tables, down to the customer."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), headless=True)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(f"{ui}/v2/runs/flow-run/{failed['id']}?tab=Details")
            see = lambda text: playwright.expect(page.get_by_text(text).first).to_be_visible(timeout=30_000)  # noqa: E731
            for text in ("nightly-", "Failed", "Contact gate closed: 1 of 1 AP contacts",
                         "Fix the contacts in the ERP (or change the policy), then run the nightly flow again"):
                see(text)
            page.screenshot(path=SHOTS / "failed-nightly.png", full_page=True)
            page.get_by_role("tab", name="Artifacts").click()
            for text in ("contact-quality", "contact-cleanup-ann-lee", "ledger-sync", "Contacts for Ann Lee to fix"):
                see(text)
            page.screenshot(path=SHOTS / "failed-nightly-artifacts.png", full_page=True)

            page.goto(f"{ui}/v2/runs/flow-run/{completed['id']}")
            page.get_by_role("tab", name="Subflow Runs").click()
            page.get_by_role("link", name=completed["name"].replace("nightly", "dunning")).first.click()
            page.get_by_role("tab", name="Artifacts").click()
            run_artifacts = page.url

            def open_artifact(key: str) -> None:
                """From the run's artifacts, the key's page, then its latest version (the one this run made)."""
                page.goto(run_artifacts)
                page.get_by_text(key, exact=True).click()
                page.get_by_role("link", name=re.compile(r"^[0-9a-f]{8}$")).first.click()

            open_artifact("dunning-plan")
            for text in ("Dunning plan for", "1 messages to send, 0 held back", "dunning-plan-messages"):
                see(text)
            page.screenshot(path=SHOTS / "dunning-plan.png", full_page=True)
            open_artifact("dunning-plan-messages")
            for text in ("Acme Corp (C1)", "$400.00", "a***@acme.example"):
                see(text)
            page.screenshot(path=SHOTS / "dunning-plan-messages.png", full_page=True)
        finally:
            browser.close()
