"""Exactly once, proven the hard way: the dunning process is killed with SIGKILL at many points and run again,
and two runs race each other, while the relay and Twilio refuse about one send in five for now (451, 503, 429),
as busy ones do. What the SMTP relay and the Twilio API (in their own process) received is compared with the
plan: every message arrives once, none is lost, none twice, and none the provider refused is left unknown."""

from __future__ import annotations

import shutil
import uuid
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from crash_runs import finished, killed_at_checkpoint, run_flow, start_sandbox, stop_sandbox
from dunning_cases import COMPANY, TODAY, Ledger, at_local, delivered_keys, seed
from pydantic import SecretStr
from test_dunning_flow import contact_stage

from blocks.contact_policy import ContactPolicy
from blocks.dunning_policy import DunningPolicy, DunningStep
from blocks.email_channel import EmailChannel
from blocks.twilio_channel import TwilioChannel
from blocks.warehouse import ArWarehouse, create_warehouse_engine, migrate
from flows.dunning import SEND_WORKERS, dunning
from sandbox.store import read_received, read_refused

pytestmark = pytest.mark.xdist_group("test_dunning_crash")  # one worker builds the module's fixtures once

SID, TOKEN = "AC" + "5" * 32, "crash-test-token"
FAULT_SHARE = 0.2  # of SMTP DATA and Twilio creates refused for now
FIGURES: Counter = Counter()  # runs, kills, messages, duplicates, losses, unknowns, refusals: printed at the end
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
    seeded_warehouse(folder, crash_ledger())
    return folder / "warehouse.sqlite"


def seeded_warehouse(folder, ledger) -> str:
    """The URL of a SQLite warehouse in ``folder`` holding ``ledger``, its contact gate decided."""
    url = f"sqlite:///{folder / 'warehouse.sqlite'}"
    engine = create_warehouse_engine(url)
    migrate(engine)
    seed(engine, ledger)
    engine.dispose()
    contact_stage(ArWarehouse(url=url), ContactPolicy(output_dir=str(folder / "contacts")))
    return url


class Scenario:
    """A private warehouse, a relay and Twilio API in their own process, and blocks naming them."""

    def __init__(self, folder: Path, warehouse_url: str, faults: float = FAULT_SHARE, seed: int = 0, **policy):
        self.folder = folder
        self.engine = sa.create_engine(warehouse_url)
        self.sandbox, ports = start_sandbox(
            folder / "received", "--account-sid", SID, "--auth-token", TOKEN, "--smtp-user", "relay",
            "--smtp-password", "relay-pw", "--fault-share", str(faults), "--fault-seed", str(seed))
        name = f"x-{uuid.uuid4().hex[:8]}"
        for block in (COMPANY, ArWarehouse(url=warehouse_url), ContactPolicy(output_dir=str(folder / "contacts")),
                      DunningPolicy(**{"output_dir": str(folder / "dunning"), "batch_size": 2,
                                       "escalation_to": ["ar-manager@northwind.example"],
                                       "retry_backoff_seconds": [0.2], "reservation_lease_seconds": 600,
                                       **policy}),
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

    def run(self, kill_at: str | None = None):
        FIGURES["runs"] += 1
        return run_flow("flows.dunning:dunning", self.params, kill_at)

    def settle(self) -> None:
        """Run again until nothing is owed: a message refused for now on every try stays owed for the next run."""
        for _ in range(4):
            finished(self.run())
            if not {"owed", "reserved", "sending"} & set(self.outbox().values()):
                return
        raise AssertionError(f"still owed after four runs: {Counter(self.outbox().values())}")

    def kill(self, kill_at: str) -> None:
        killed_at_checkpoint(self.run(kill_at), kill_at)
        FIGURES["kills"] += 1

    def outbox(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.text("SELECT outbox_key, status FROM dunning_outbox")).all())

    def received(self) -> tuple[Counter, Counter]:
        mails, requests = read_received(self.folder / "received")
        delivered = [key for m in mails for key in delivered_keys(m)]
        return Counter(delivered), Counter((r["kind"], r["to"], r["body"]) for r in requests)

    def refused(self) -> set[str]:
        """Outbox keys of the emails the relay refused at least once."""
        mails, requests = read_refused(self.folder / "received")
        FIGURES["refusals"] += len(mails) + len(requests)
        return {key for m in mails for key in delivered_keys(m)}

    def close(self) -> None:
        stop_sandbox(self.sandbox)
        self.engine.dispose()


@pytest.fixture(scope="module", autouse=True)
def figures():
    yield
    print(f"\ncrash figures: {dict(FIGURES)}")


@pytest.fixture
def scenario(template, tmp_path):
    def make(**options) -> Scenario:
        shutil.copy(template, tmp_path / "warehouse.sqlite")
        made.append(Scenario(tmp_path, f"sqlite:///{tmp_path / 'warehouse.sqlite'}", **options))
        return made[-1]

    made: list[Scenario] = []
    yield make
    for s in made:
        s.close()


def expected_messages(scenario: Scenario, count: int = 34) -> list:
    plan = dunning(**{**scenario.params, "now": NOW}, dry_run=True)
    assert len(plan.messages) == count
    FIGURES["messages"] += count
    return plan.messages


def assert_each_message_arrived_once(scenario: Scenario, planned: list) -> None:
    """Nothing twice, ever. Nothing lost, with one exception no SMTP sender can close: an email whose run died in
    the instant between recording "sending" and the relay taking the final "." of DATA, or between the relay's
    answer to that "." (here a 451) and recording it (another send thread may be there when the kill lands). Such
    an email is flagged ``unknown`` for a person, never silently dropped. A refused attempt waiting for its next
    try is never one of them: it is back to reserved before the wait."""
    mails, texts = scenario.received()
    want_mails = Counter(m.key for m in planned if m.channel in ("email", "escalation"))
    statuses = scenario.outbox()
    FIGURES["duplicates"] += sum((mails - want_mails).values())
    FIGURES["unknowns"] += sum(status == "unknown" for status in statuses.values())
    assert not mails - want_mails, f"sent twice: {mails - want_mails}"
    lost = want_mails - mails
    FIGURES["losses"] += sum(lost.values())
    assert all(statuses.get(key) == "unknown" for key in lost), \
        f"lost without a flag: { {key: statuses.get(key) for key in lost} }"
    assert len(lost) <= SEND_WORKERS, f"more emails lost than threads that could be handing one over: {lost}"
    FIGURES["lost and refused before"] += len(set(lost) & scenario.refused())
    twice = {text: n for text, n in texts.items() if n > 1}
    FIGURES["duplicates"] += sum(n - 1 for n in twice.values())
    assert not twice, f"texts or calls sent twice: {twice}"
    # Each number got as many distinct texts and calls as were planned for it: a number two messages share
    # received both, not one of them twice.
    want_texts = Counter((m.channel, m.recipients[0].address) for m in planned if m.channel in ("sms", "voice"))
    got_texts = Counter((kind, to) for kind, to, _ in texts.elements())
    FIGURES["losses"] += sum((want_texts - got_texts).values())
    assert got_texts == want_texts, f"duplicates {got_texts - want_texts}, lost {want_texts - got_texts}"
    assert set(statuses) == {m.key for m in planned}
    assert set(statuses.values()) <= {"sent", "unknown"}


KILL_POINTS = ["planned:1", "reconciled:1", "reserved:1", "reserved:4", "before-send:1", "before-send:9",
               "refused:1", "refused:4", "handing-over:5", "provider-accepted:1", "provider-accepted:6",
               "provider-accepted:15", "completed:3", "completed:20"]


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_killed_anywhere_and_run_again_nothing_is_lost_and_nothing_sent_twice(scenario, kill_at):
    s = scenario(seed=KILL_POINTS.index(kill_at))
    planned = expected_messages(s)
    s.kill(kill_at)
    s.settle()
    assert_each_message_arrived_once(s, planned)
    # "unknown" is only ever an email the run was handing over when it died: Twilio can be asked, a relay cannot.
    unknown = [k for k, status in s.outbox().items() if status == "unknown"]
    assert all(k.endswith(("|email", "|escalation")) for k in unknown)


def test_killed_twice_in_a_row_the_third_run_still_delivers_each_message_once(scenario):
    s = scenario(seed=99)
    planned = expected_messages(s)
    for kill_at in ("provider-accepted:3", "reserved:2"):
        s.kill(kill_at)
    s.settle()
    assert_each_message_arrived_once(s, planned)


def shared_number_ledger() -> Ledger:
    """Two customers whose AP clerk is the same person (one number), and one customer owing in two currencies."""
    ledger = Ledger()
    for customer in ("S1", "S2"):
        ledger.customer(customer, phone_e164="+12125559001")
    ledger.customer("S3", zone="America/Chicago", phone_e164="+12125559002")
    (ledger.invoice("INV-S1", "S1", 16, 120_000).invoice("INV-S2", "S2", 17, 45_000)
     .invoice("INV-S3", "S3", 16, 70_000).invoice("INV-S3E", "S3", 16, 70_000, currency="EUR"))
    return ledger


def test_a_text_lost_in_a_crash_is_sent_again_not_confirmed_with_another_text_to_the_same_number(prefect_api,
                                                                                                  tmp_path):
    """Four texts to two numbers, sent one after another; the run is killed with the last one recorded as being
    handed to Twilio but before Twilio got it. Twilio has a text to that number since the reservation (the
    other customer's, or the other currency's): it must not count as this one."""
    url = seeded_warehouse(tmp_path, shared_number_ledger())
    s = Scenario(tmp_path, url, faults=0, batch_size=10,
                 steps=[DunningStep(offset=15, channels=["sms"], tone="firm")])
    try:
        planned = expected_messages(s, count=4)
        s.kill("handing-over:4")
        s.settle()
        assert_each_message_arrived_once(s, planned)
        with s.engine.connect() as conn:
            sids = [r[0] for r in conn.execute(sa.text("SELECT provider_id FROM dunning_outbox"))]
        assert len(set(sids)) == 4 and all(sid.startswith("SM") for sid in sids)
    finally:
        s.close()


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
        finished(first)
        finished(second)
        if "owed" in s.outbox().values():
            s.settle()
        assert_each_message_arrived_once(s, planned)
        assert set(s.outbox().values()) == {"sent"}
    finally:
        s.close()
