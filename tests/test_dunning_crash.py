"""Exactly once, proven the hard way: the dunning process is killed with SIGKILL at many points and run again,
and two runs race each other. What the SMTP relay and the Twilio API (in their own process) received is compared
with the plan: every message arrives once, none is lost, none twice."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from dunning_cases import COMPANY, TODAY, Ledger, at_local, delivered_keys, seed
from prefect.settings import get_current_settings
from pydantic import SecretStr
from test_dunning_flow import contact_stage

from blocks.contact_policy import ContactPolicy
from blocks.dunning_policy import DunningPolicy
from blocks.email_channel import EmailChannel
from blocks.twilio_channel import TwilioChannel
from blocks.warehouse import ArWarehouse
from flows.dunning import SEND_WORKERS, dunning
from flows.sandbox import read_received
from tasks.warehouse import create_warehouse_engine, migrate

SID, TOKEN = "AC" + "5" * 32, "crash-test-token"
NOW = at_local(TODAY, 11, "America/Chicago")
ZONES = ["America/New_York", "America/Chicago", "America/Los_Angeles", "America/Denver"]


def crash_ledger() -> Ledger:
    """Sixteen customers at steps that use every channel: 34 messages, 28 of them to the relay or Twilio."""
    ledger = Ledger()
    for n, days in enumerate([1, 2, 16, 17, 31, 32, 46, 47, 61, 62, 91, 5, 20, 35, 50, 3]):
        ledger.customer(f"K{n:02d}", zone=ZONES[n % len(ZONES)], collector=("Ann Lee", "Bo Chan")[n % 2])
        ledger.invoice(f"INV-{n:02d}", f"K{n:02d}", days, 10_000 * (n + 1))
    return ledger


@pytest.fixture(scope="module")
def template(prefect_api, tmp_path_factory):
    """One warehouse with the ledger synced and the contact gate decided, copied for every scenario."""
    folder = tmp_path_factory.mktemp("crash-template")
    url = f"sqlite:///{folder / 'warehouse.sqlite'}"
    engine = create_warehouse_engine(url)
    migrate(engine)
    seed(engine, crash_ledger())
    engine.dispose()
    contact_stage(ArWarehouse(url=url), ContactPolicy(output_dir=str(folder / "contacts")))
    return folder / "warehouse.sqlite"


class Scenario:
    """A private warehouse, a relay and Twilio API in their own process, and blocks naming them."""

    def __init__(self, folder: Path, warehouse_url: str):
        self.folder = folder
        self.engine = sa.create_engine(warehouse_url)
        self.sandbox = subprocess.Popen(
            [sys.executable, "-m", "flows.sandbox", "--folder", str(folder / "received"), "--account-sid", SID,
             "--auth-token", TOKEN, "--smtp-user", "relay", "--smtp-password", "relay-pw"],
            stdout=subprocess.PIPE, text=True)
        ports = json.loads(self.sandbox.stdout.readline())
        name = f"x-{uuid.uuid4().hex[:8]}"
        for block in (COMPANY, ArWarehouse(url=warehouse_url), ContactPolicy(output_dir=str(folder / "contacts")),
                      DunningPolicy(output_dir=str(folder / "dunning"), escalation_to=["ar-manager@northwind.example"],
                                    batch_size=2, retry_backoff_seconds=[0], reservation_lease_seconds=600),
                      EmailChannel(host="127.0.0.1", port=ports["smtp_port"], security="none", username="relay",
                                   password=SecretStr("relay-pw"), from_address="ar@northwind.example"),
                      TwilioChannel(account_sid=SID, auth_token=SecretStr(TOKEN), from_number="+13125550100",
                                    api_base_url=ports["twilio_url"])):
            block.save(name, overwrite=True)
        self.params = {"warehouse": f"arpilot-ar-warehouse/{name}", "company": f"arpilot-company-profile/{name}",
                       "dunning_policy": f"arpilot-dunning-policy/{name}",
                       "contact_policy": f"arpilot-contact-policy/{name}",
                       "email_channel": f"arpilot-email-channel/{name}",
                       "twilio_channel": f"arpilot-twilio-channel/{name}", "now": NOW.isoformat()}

    def run(self, kill_at: str | None = None) -> subprocess.Popen:
        env = {**os.environ, "PREFECT_API_URL": str(get_current_settings().api.url),
               "PREFECT_LOGGING_LEVEL": "WARNING"}
        env.pop("ARPILOT_KILL_AT", None)
        if kill_at:
            env["ARPILOT_KILL_AT"] = kill_at
        code = "import json, sys; from flows.dunning import dunning; dunning(**json.loads(sys.argv[1]))"
        return subprocess.Popen([sys.executable, "-c", code, json.dumps(self.params)], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)

    def outbox(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.text("SELECT outbox_key, status FROM dunning_outbox")).all())

    def received(self) -> tuple[Counter, Counter]:
        mails, requests = read_received(self.folder / "received")
        delivered = [key for m in mails for key in delivered_keys(m)]
        return Counter(delivered), Counter((r["kind"], r["to"]) for r in requests)

    def close(self) -> None:
        self.sandbox.terminate()
        self.sandbox.wait(10)
        self.engine.dispose()


@pytest.fixture
def scenario(template, tmp_path):
    def make() -> Scenario:
        shutil.copy(template, tmp_path / "warehouse.sqlite")
        made.append(Scenario(tmp_path, f"sqlite:///{tmp_path / 'warehouse.sqlite'}"))
        return made[-1]

    made: list[Scenario] = []
    yield make
    for s in made:
        s.close()


def expected_messages(scenario: Scenario) -> list:
    plan = dunning(**{**scenario.params, "now": NOW}, dry_run=True)
    assert len(plan.messages) == 34
    return plan.messages


def assert_each_message_arrived_once(scenario: Scenario, planned: list) -> None:
    """Nothing twice, ever. Nothing lost, with one exception no SMTP sender can close: an email whose run died in
    the instant between recording "sending" and the relay taking the final "." of DATA (another send thread may
    be there when the kill lands). Such an email is flagged ``unknown`` for a person, never silently dropped."""
    mails, texts = scenario.received()
    want_mails = Counter(m.key for m in planned if m.channel in ("email", "escalation"))
    want_texts = Counter((m.channel, m.recipients[0].address) for m in planned if m.channel in ("sms", "voice"))
    statuses = scenario.outbox()
    assert not mails - want_mails, f"sent twice: {mails - want_mails}"
    lost = want_mails - mails
    assert all(statuses.get(key) == "unknown" for key in lost), \
        f"lost without a flag: { {key: statuses.get(key) for key in lost} }"
    assert len(lost) <= SEND_WORKERS, f"more emails lost than threads that could be handing one over: {lost}"
    assert texts == want_texts, f"duplicates {texts - want_texts}, lost {want_texts - texts}"
    assert set(statuses) == {m.key for m in planned}
    assert set(statuses.values()) <= {"sent", "unknown"}


KILL_POINTS = ["planned:1", "reconciled:1", "reserved:1", "reserved:4", "before-send:1", "before-send:9",
               "provider-accepted:1", "provider-accepted:6", "provider-accepted:15", "completed:3", "completed:20"]


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_killed_anywhere_and_run_again_nothing_is_lost_and_nothing_sent_twice(scenario, kill_at):
    s = scenario()
    planned = expected_messages(s)
    killed = s.run(kill_at)
    killed.wait(120)
    assert killed.returncode == -9, f"the run was not killed at {kill_at}: {killed.stderr.read()[-2000:]}"
    rerun = s.run()
    assert rerun.wait(120) == 0, rerun.stderr.read()[-3000:]
    assert_each_message_arrived_once(s, planned)
    # "unknown" is only ever an email the run was handing over when it died: Twilio can be asked, a relay cannot.
    unknown = [k for k, status in s.outbox().items() if status == "unknown"]
    assert all(k.endswith(("|email", "|escalation")) for k in unknown)


def test_killed_twice_in_a_row_the_third_run_still_delivers_each_message_once(scenario):
    s = scenario()
    planned = expected_messages(s)
    for kill_at in ("provider-accepted:3", "reserved:2"):
        run = s.run(kill_at)
        run.wait(120)
        assert run.returncode == -9
    assert s.run().wait(120) == 0
    assert_each_message_arrived_once(s, planned)


@pytest.fixture
def shared_warehouse(prefect_api, warehouse_url, tmp_path):
    """The crash ledger in a warehouse on each backend, with its contact gate decided."""
    engine = create_warehouse_engine(warehouse_url)
    migrate(engine)
    seed(engine, crash_ledger())
    engine.dispose()
    contact_stage(ArWarehouse(url=warehouse_url), ContactPolicy(output_dir=str(tmp_path / "contacts")))
    return warehouse_url


def test_two_runs_at_the_same_moment_send_each_message_once(shared_warehouse, tmp_path):
    s = Scenario(tmp_path, shared_warehouse)
    try:
        planned = expected_messages(s)
        first, second = s.run(), s.run()
        assert first.wait(120) == 0, first.stderr.read()[-3000:]
        assert second.wait(120) == 0, second.stderr.read()[-3000:]
        assert_each_message_arrived_once(s, planned)
        assert set(s.outbox().values()) == {"sent"}
    finally:
        s.close()
