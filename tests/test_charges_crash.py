"""Money taken exactly once, proven the hard way: the autopay charge run is killed with SIGKILL at every named point
and at random moments and run again, two runs start at the same moment, and a proxy loses one gateway request in
five. The local Stripe runs in a process of its own with Idempotency-Key ignored (as localstripe itself does), so
nothing here leans on the gateway deduplicating: whatever the warehouse and the gateway end up holding is compared
with the plan made before the first run."""

from __future__ import annotations

import json
import random
import shutil
import urllib.parse
import urllib.request
import uuid
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import stripe
from crash_runs import (
    finished,
    kill_after,
    killed_at_checkpoint,
    one_ahead,
    run_flow,
    run_length,
    start_sandbox,
    started,
    stop_sandbox,
)
from dunning_cases import COMPANY, TODAY, Ledger, seed
from pydantic import SecretStr

from blocks.autopay_policy import AutopayPolicy
from blocks.payment_gateway import PaymentGateway
from blocks.warehouse import ArWarehouse, create_warehouse_engine, migrate
from sandbox.stripe_api import DECLINING_CARD, FAILING_IBAN, SANDBOX_SECRET_KEY, SUCCEEDING_IBAN
from tasks import warehouse as wh
from tasks.charges.gateway import gateway_amount
from tasks.charges.mandates import enroll
from tasks.charges.plan import ChargePlan, plan_charges

pytestmark = pytest.mark.xdist_group("test_charges_crash")  # one worker builds the module's fixtures once

CAP = 500_000
FIGURES: Counter = Counter()  # runs, kills, charges, intents, double charges...: printed at the end
CARDS = 30
TIMEOUT, HELD, GRACE = 2, 2.5, 4  # the client's timeout, a request held up on its way, the grace before asking again
# What each autopay customer's charge must end as: the ledger's kinds of customer.
FINAL = {"card": "succeeded", "sepa": "succeeded", "sepa-fails": "failed", "soft": "failed", "hard": "failed"}


def kill_ledger() -> tuple[Ledger, dict[str, str]]:
    """40 autopay customers: 30 on cards (some owing several invoices, some an invoice not due yet), four SEPA
    debits (one from an account that bounces), a soft and a hard decline, and four not to be charged: above the
    mandate's cap, in credit, owing in a currency without a mandate, and owing nothing due. 36 charges, 3 reasons."""
    ledger, kinds = Ledger(), {}
    for n in range(4):
        ledger.customer(f"A{n:02d}").invoice(f"IA{n:02d}", f"A{n:02d}", n + 1, 40_000 + 100 * n, currency="EUR")
        kinds[f"A{n:02d}"] = "sepa-fails" if n == 3 else "sepa"
    for n in range(CARDS):
        customer = f"C{n:02d}"
        ledger.customer(customer).invoice(f"IC{n:02d}", customer, n % 9, 10_000 + 137 * n)
        if n % 5 == 0:
            ledger.invoice(f"IC{n:02d}b", customer, 20 + n, 5_000 + n)
        if n % 7 == 0:
            ledger.invoice(f"IC{n:02d}n", customer, -3, 9_900)  # not due: never charged today
        kinds[customer] = "card"
    for customer, kind in (("D-SOFT", "soft"), ("D-HARD", "hard")):
        ledger.customer(customer).invoice(f"I{customer}", customer, 4, 33_000)
        kinds[customer] = kind
    (ledger.customer("X-CAP").invoice("IX-CAP", "X-CAP", 2, CAP + 1)
     .customer("X-CREDIT").invoice("IX-CREDIT", "X-CREDIT", 2, 20_000)
     .customer("X-EUR").invoice("IX-EUR", "X-EUR", 2, 20_000, currency="EUR")
     .customer("X-LATER").invoice("IX-LATER", "X-LATER", -10, 20_000))
    for customer in ("X-CAP", "X-CREDIT", "X-EUR", "X-LATER"):
        kinds[customer] = "card"
    return ledger, kinds


LEDGER, KINDS = kill_ledger()


def seeded(url: str) -> None:
    """The kill ledger in a new warehouse, with a payment of X-CREDIT's that is not applied to any invoice."""
    engine = create_warehouse_engine(url)
    migrate(engine)
    seed(engine, LEDGER)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO payments (payment_id, customer_id, received_on, currency, amount_cents, "
                             "method, row_hash, synced_at) VALUES ('P-UNAPPLIED', 'X-CREDIT', '2026-11-01', 'USD', "
                             "2500, 'wire', 0, '2026-11-01 00:00:00')"))
    engine.dispose()


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("charges-crash-template")
    seeded(f"sqlite:///{folder / 'warehouse.sqlite'}")
    return folder / "warehouse.sqlite"


class Scenario:
    """A warehouse, a local Stripe in its own process (Idempotency-Key ignored) holding every customer's mandate,
    blocks naming both, and the plan of the day as it stands before the first run."""

    def __init__(self, folder: Path, warehouse_url: str, settle_seconds: float = 0.2):
        self.sandbox, ports = start_sandbox(folder / "received", "--stripe-no-idempotency",
                                            "--stripe-settle-seconds", str(settle_seconds))
        self.stripe_url = ports["stripe_url"]
        self.client = stripe.StripeClient(SANDBOX_SECRET_KEY, base_addresses={"api": self.stripe_url},
                                          max_network_retries=0)
        self.engine = create_warehouse_engine(warehouse_url)
        try:
            self._set_up(folder, warehouse_url)
        except BaseException:
            self.close()
            raise

    def _set_up(self, folder: Path, warehouse_url: str) -> None:
        self._enroll_all()
        name = f"k-{uuid.uuid4().hex[:8]}"
        gateway = PaymentGateway(secret_key=SecretStr(SANDBOX_SECRET_KEY), publishable_key="pk_test_arpilot",
                                 api_base=self.stripe_url, timeout_seconds=TIMEOUT)
        policy = AutopayPolicy(export_dir=str(folder / "autopay"), batch_size=4, gateway_backoff_seconds=0.05,
                               lost_answer_grace_seconds=GRACE)
        for block in (COMPANY, ArWarehouse(url=warehouse_url), gateway, policy):
            block.save(name, overwrite=True)
        self.params = {"charge_day": TODAY.isoformat(), "warehouse": f"arpilot-ar-warehouse/{name}",
                       "company": f"arpilot-company-profile/{name}", "gateway": f"arpilot-payment-gateway/{name}",
                       "autopay_policy": f"arpilot-autopay-policy/{name}"}
        self.due = self.query("due")
        self.plan = self.plan_now()
        assert (len(self.plan.charges), len(self.plan.skipped)) == (36, 3)
        FIGURES["charges planned"] += len(self.plan.charges)

    def _enroll_all(self) -> None:
        for customer, kind in KINDS.items():
            if kind.startswith("sepa"):
                method = self.client.v1.payment_methods.create(params={
                    "type": "sepa_debit", "sepa_debit": {"iban": FAILING_IBAN if kind == "sepa-fails" else
                                                         SUCCEEDING_IBAN}, "billing_details": {"name": customer}}).id
            else:
                number = DECLINING_CARD if kind == "hard" else "4242424242424242"
                method = self.client.v1.payment_methods.create(params={"type": "card", "card": {
                    "number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}).id
            enroll(self.engine, self.client, customer, "EUR" if kind.startswith("sepa") else "USD", method, CAP, "cli")
            if kind == "soft":
                self.configure(f"declines/{method}", decline_code="insufficient_funds", count=1)

    def configure(self, path: str, **form) -> bytes:
        """POST to the sandbox's /_config/ (faults, declines, debit settlement), which lives in another process."""
        request = urllib.request.Request(f"{self.stripe_url}/_config/{path}", method="POST",
                                         data=urllib.parse.urlencode(form).encode())
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.read()

    def faults_made(self) -> dict:
        with urllib.request.urlopen(f"{self.stripe_url}/_config/faults", timeout=10) as answer:
            return json.loads(answer.read())

    def query(self, name: str) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return wh.query_frame(conn, wh.named_query("charges", name),
                                  {"day": TODAY} if name in ("due", "history") else None)

    def plan_now(self) -> ChargePlan:
        """The plan the run would make now, from the warehouse as it stands (the flow's own rule, called directly)."""
        return plan_charges(self.query("due"), self.query("mandates"), self.query("history"), self.query("credit"),
                            TODAY)

    def run(self, kill_at: str | None = None, gated: bool = False):
        FIGURES["runs"] += 1
        return run_flow("flows.charges:autopay_charges", self.params, kill_at, gated)

    def charges(self) -> pd.DataFrame:
        with self.engine.connect() as conn:
            return wh.query_frame(conn, "SELECT * FROM charges")

    def settle(self) -> None:
        """Run again until no charge is left reserved, submitted or processing (a bank debit settles in 0.2 s, a
        charge whose answer was lost is asked again after the grace)."""
        for _ in range(6):
            finished(self.run())
            if not {"reserved", "submitted", "processing"} & set(self.charges()["status"]):
                return
        raise AssertionError(f"still unsettled after six runs: {Counter(self.charges()['status'])}")

    def intents(self) -> list:
        """Every PaymentIntent the gateway holds: the money actually asked for."""
        return list(self.client.v1.payment_intents.list(params={"limit": 100}).auto_paging_iter())

    def close(self) -> None:
        stop_sandbox(self.sandbox)
        self.engine.dispose()


@pytest.fixture(scope="module", autouse=True)
def figures():
    yield
    print(f"\ncharge kill figures: {dict(FIGURES)}")


@pytest.fixture
def scenario(prefect_api, template, tmp_path):
    def make(**options) -> Scenario:
        folder = tmp_path / f"s{len(made)}"
        folder.mkdir()
        shutil.copy(template, folder / "warehouse.sqlite")
        made.append(Scenario(folder, f"sqlite:///{folder / 'warehouse.sqlite'}", **options))
        return made[-1]

    made: list[Scenario] = []
    yield make
    for s in made:
        s.close()


def assert_each_due_invoice_charged_once(s: Scenario) -> None:
    """The gateway holds exactly one PaymentIntent per planned charge and none else, each for the planned amount and
    ending as its customer's kind says; the warehouse holds the same charges, each success paid once into payments and
    allocations; every due invoice is under a charge, or not charged with a reason the plan still gives."""
    intents = s.intents()
    per_key = Counter(i.metadata.to_dict().get("charge_key") for i in intents)
    doubles = sum(n - 1 for n in per_key.values())
    FIGURES["intents"] += len(intents)
    FIGURES["double charges"] += doubles
    assert doubles == 0, f"charged twice: { {k: n for k, n in per_key.items() if n > 1} }"
    planned = {c.charge_key: c for c in s.plan.charges}
    assert set(per_key) == set(planned), f"unplanned {set(per_key) - set(planned)}, missed {set(planned) - set(per_key)}"
    charges = s.charges().set_index("charge_key")
    assert set(charges.index) == set(planned)
    by_key = {i.metadata["charge_key"]: i for i in intents}
    taken: Counter = Counter()
    for key, charge in planned.items():
        intent, row = by_key[key], charges.loc[key]
        want = FINAL[KINDS[charge.customer_id]]
        assert (intent.amount, intent.currency, intent.customer) == (
            gateway_amount(charge.amount_cents, charge.currency), charge.currency.lower(), charge.gateway_customer)
        assert (row["status"], row["intent_id"], int(row["amount_cents"])) == (want, intent.id, charge.amount_cents)
        assert (intent.status == "succeeded") == (want == "succeeded"), (key, intent.status)
        if want == "failed":
            assert row["failure_reason"] and row["failure_kind"] == ("soft" if KINDS[charge.customer_id] == "soft"
                                                                     else "hard"), row.to_dict()
        else:
            taken[charge.currency] += charge.amount_cents
    FIGURES["charges"] += len(charges)
    with s.engine.connect() as conn:
        paid = wh.query_frame(conn, "SELECT g.intent_id, g.amount_cents, a.invoice_number, a.amount_cents AS applied "
                                    "FROM gateway_payments g JOIN allocations a ON a.document_id = g.payment_id")
        covered = wh.query_frame(conn, "SELECT c.charge_key, ci.invoice_number, ci.amount_cents FROM charges c "
                                       "JOIN charge_invoices ci ON ci.charge_key = c.charge_key "
                                       "WHERE c.status = 'succeeded'")
        payments = conn.execute(sa.text("SELECT COUNT(*) FROM payments WHERE payment_id LIKE 'ARP-%'")).scalar()
    money = Counter({i.currency.upper(): 0 for i in intents})
    for i in intents:
        money[i.currency.upper()] += i.amount if i.status == "succeeded" else 0
    assert +money == +taken, "money taken at the gateway differs from the plan"
    assert payments == int(s.charges()["status"].eq("succeeded").sum())
    # Each success is one payment, applied once to each invoice its charge covered, for what the charge took.
    key_of = {intent.id: key for key, intent in by_key.items()}
    assert sorted(zip(paid["intent_id"].map(key_of), paid["invoice_number"], paid["applied"])) == sorted(
        zip(covered["charge_key"], covered["invoice_number"], covered["amount_cents"]))
    # Every due invoice is under exactly one planned charge or was not charged with a reason, which it still has.
    under = Counter(n for c in s.plan.charges for n, _ in c.invoices)
    skipped = Counter(n for k in s.plan.skipped for n in k.invoices)
    assert under + skipped == Counter(s.due["invoice_number"]) and not set(under) & set(skipped)
    after = s.plan_now()
    assert after.charges == [], "a due invoice was left to charge"
    reasons = {n: k.reason for k in after.skipped for n in k.invoices}
    assert set(skipped) <= set(reasons)
    failed = {n for c in s.plan.charges if FINAL[KINDS[c.customer_id]] == "failed" for n, _ in c.invoices}
    assert failed <= set(reasons), "a declined invoice lost its reason"


# Each point is reached by the run it kills: the first runs leave most charges to take, the adoption follows a kill
# with a charge reserved, and the debits stay processing until settled before the poll that is killed.
NAMED_KILLS = ["charges-planned:1", "charge-reserved:2", "charge-adopted:1", "charge-submitted:3",
               "charge-looked-up:2", "charge-answered:3", "payment-recorded:2", "charge-settled:2",
               "charges-taken:1", "debit-polled:1", "export-written:1"]


def test_killed_at_each_named_point_then_run_again_each_due_invoice_is_charged_once(scenario):
    """One charge day killed at all eleven named points in turn (each run recovering what the last left), then a
    clean run: the gateway and the warehouse hold exactly the plan's charges, each once."""
    s = scenario(settle_seconds=86_400)  # bank debits settle when the test says so, before the killed poll
    points = iter(NAMED_KILLS)
    runs = one_ahead(lambda: s.run(next(points, None), gated=True))
    for kill_at, run in zip(NAMED_KILLS, runs):
        if kill_at.startswith("debit-polled"):
            assert json.loads(s.configure("debits/settle"))["settled"] == 4
        killed_at_checkpoint(run, kill_at)
        FIGURES["kills at named points"] += 1
    runs.close()
    FIGURES["runs"] -= 1  # the clean run spawned after the last kill, sent away
    FIGURES["named points"] += len({k.partition(":")[0] for k in NAMED_KILLS})
    s.settle()
    assert_each_due_invoice_charged_once(s)


RANDOM_CHAINS, KILLS_PER_CHAIN = 2, 10


def test_killed_at_random_moments_then_run_again_each_due_invoice_is_charged_once(scenario):
    """Twenty kills at moments drawn at random within a whole run's length (measured here on a clean run, which must
    itself take exactly the plan), ten in a row on each of two charge days, each run recovering from the last."""
    clean = scenario()
    length = run_length(clean.run())
    clean.settle()
    assert_each_due_invoice_charged_once(clean)
    rng = random.Random(13)
    for _ in range(RANDOM_CHAINS):
        s, kills = scenario(), 0
        runs = one_ahead(lambda: s.run(gated=True))
        for _, run in zip(range(3 * KILLS_PER_CHAIN), runs):
            kills += kill_after(run, rng.uniform(0, length))
            if kills == KILLS_PER_CHAIN:
                break
        runs.close()
        FIGURES["runs"] -= 1
        assert kills == KILLS_PER_CHAIN, f"only {kills} runs were still running at their moment"
        FIGURES["kills at random moments"] += kills
        s.settle()
        assert_each_due_invoice_charged_once(s)


def test_two_runs_started_at_the_same_moment_charge_each_due_invoice_once(prefect_api, warehouse_url, tmp_path):
    """After a kill that left charges reserved and answered but not recorded, two runs start at the same moment: both
    find the dead run's charges (one adopts each) and both plan the rest (one reserves each)."""
    seeded(warehouse_url)
    s = Scenario(tmp_path, warehouse_url)
    try:
        killed_at_checkpoint(s.run("charge-answered:6"), "charge-answered:6")
        FIGURES["kills at named points"] += 1
        assert {"reserved", "submitted"} & set(s.charges()["status"])
        first, second = s.run(gated=True), s.run(gated=True)
        assert started(first, second)  # both imported, then let through together
        finished(first)
        finished(second)
        s.settle()
        assert_each_due_invoice_charged_once(s)
        FIGURES["concurrent runs"] += 2
    finally:
        s.close()


def test_a_proxy_failing_a_fifth_of_gateway_requests_still_charges_each_due_invoice_once(scenario):
    """One request in ten refused before it runs (503, 429), one in ten with its answer lost: a 502 after it ran, the
    answer held past the client's timeout, or the request held up on its way and run after the client gave up (and
    after a lookup would have found nothing; so for certain with the first three charges). Every lost answer is
    looked up by its charge key, and asked again only by a later run once the grace has passed, never blindly."""
    s = scenario()
    s.configure("faults", share=0.1, lost_share=0.1, late_seconds=HELD, seed=5, hold_charges=3)
    s.settle()
    made = s.faults_made()
    s.configure("faults")  # the checks below read the gateway without faults
    failing = sum(n for kind, n in made.items() if kind in ("refused", "lost", "late", "held"))
    assert 0.12 < failing / made["requests"] < 0.35, made
    assert made["held creates"] >= 3 and made.get("lost", 0) + made.get("late", 0) >= 1, made
    FIGURES.update({"gateway requests" if kind == "requests" else f"gateway requests {kind}": n
                    for kind, n in made.items()})
    assert_each_due_invoice_charged_once(s)
