"""Promises to pay on a real warehouse (SQLite and PostgreSQL), a real Prefect API, a real SMTP relay, on a fixed
clock: the ledger's promise recorded and holding through its grace, kept (one thank-you), broken (a firm email
that recalls it, a call task first on the collector's list, the event), a repeat told to the sales rep once, and
a promise a person records in the UI form or the CLI."""

from __future__ import annotations

import csv
import uuid
from datetime import date, timedelta
from types import SimpleNamespace

import pandas as pd
import pytest
from dunning_cases import COMPANY, TODAY, Ledger, at_local, seed
from prefect import flow

from blocks.contact_policy import ContactPolicy
from blocks.dunning_policy import DunningPolicy
from blocks.escalation_policy import EscalationPolicy
from blocks.report_recipients import ReportRecipients
from blocks.warehouse import ArWarehouse
from flows.dunning import dunning
from flows.promises import review_promises
from tasks import warehouse as wh
from tasks.contacts.checks import check_contacts, normalize_changed_contacts
from tasks.dunning.plan import PROMISE

D = date.fromisoformat
SALES = "sam@northwind.example"


@flow
def contact_stage(store: ArWarehouse, policy: ContactPolicy):
    normalize_changed_contacts(store, COMPANY.time_zone)
    check_contacts(store, policy, "arpilot-contact-policy/test", TODAY, str(uuid.uuid4()), "en_US")


@pytest.fixture
def env(prefect_api, warehouse, warehouse_url, tmp_path, sandbox):
    name = f"p-{uuid.uuid4().hex[:8]}"
    store = ArWarehouse(url=warehouse_url)
    blocks = (COMPANY, store, ContactPolicy(output_dir=str(tmp_path / "contacts")),
              DunningPolicy(output_dir=str(tmp_path / "dunning"), escalation_to=["ar-manager@northwind.example"],
                            retry_backoff_seconds=[0]),
              EscalationPolicy(ar_managers=["ar-manager@northwind.example"], promise_grace_days=3,
                               broken_promises_for_sales=2, broken_promise_window_days=365),
              ReportRecipients(sales_reps={"Sam Sales": SALES}), sandbox.email, sandbox.phone)
    for block in blocks:
        block.save(name, overwrite=True)
    params = {"warehouse": f"arpilot-ar-warehouse/{name}", "company": f"arpilot-company-profile/{name}",
              "dunning_policy": f"arpilot-dunning-policy/{name}", "contact_policy": f"arpilot-contact-policy/{name}",
              "email_channel": f"arpilot-email-channel/{name}", "twilio_channel": f"arpilot-twilio-channel/{name}"}
    return SimpleNamespace(name=name, params=params, engine=warehouse, store=store, contacts=blocks[2],
                           sandbox=sandbox, tmp=tmp_path)


def start(env, ledger: Ledger) -> None:
    seed(env.engine, ledger)
    with env.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE customers SET sales_rep = 'Sam Sales'")
    contact_stage(env.store, env.contacts)


def review(env, day: date):
    return review_promises(env.params["warehouse"], env.params["company"], f"arpilot-escalation-policy/{env.name}",
                           env.params["email_channel"], day, f"arpilot-report-recipients/{env.name}")


def dun(env, day: date):
    return dunning(**env.params, now=at_local(day, 11, "America/Chicago"))


def pay(env, customer_id: str, invoice: str, day: str, cents: int) -> None:
    """A payment as the ledger sync brings it: the payment row, and the invoice it settles closed."""
    with env.engine.begin() as conn:
        wh.insert(conn, "payments", pd.DataFrame([{
            "payment_id": f"PAY-{invoice}", "customer_id": customer_id, "received_on": D(day), "currency": "USD",
            "amount_cents": cents, "method": "wire", "row_hash": 1, "synced_at": wh.utcnow()}]))
        conn.exec_driver_sql(f"UPDATE invoices SET status = 'paid', open_cents = 0 WHERE invoice_number = '{invoice}'")


def promises(env) -> dict[str, tuple]:
    with env.engine.connect() as conn:
        rows = wh.query_frame(conn, "SELECT promise_id, amount_cents, hold_until, status FROM promises")
    return {r.promise_id: (int(r.amount_cents), str(r.hold_until)[:10], r.status) for r in rows.itertuples()}


def holds(env, day: date) -> dict[str, str]:
    """What the dunning plan holds back on ``day``, from the warehouse query and the rule the dunning run uses."""
    from tasks.dunning.plan import hold_reasons
    from tasks.dunning.planning import aged_for_planning

    with env.engine.connect() as conn:
        invoices = wh.query_frame(conn, wh.named_query("dunning", "open_invoices"))
    aged = aged_for_planning(invoices, day, [30, 60, 90])
    return dict(zip(aged["invoice_number"], hold_reasons(aged, day, settle_days=5), strict=True))


def mail(env, reference: str) -> list:
    return [m.message for m in env.sandbox.smtp.messages if m.message["X-Arpilot-Reference"] == reference]


@pytest.mark.parametrize("warehouse_url", ["sqlite", "postgresql"], indirect=True)
def test_a_ledger_promise_is_recorded_and_holds_the_customers_reminders_through_the_grace(env):
    start(env, Ledger().customer("P1").invoice("I1", "P1", 20, 100_000, promise="2026-11-25")
          .invoice("I2", "P1", 40, 5_000).customer("Q1").invoice("I3", "Q1", 20, 7_000, promise="2026-11-24"))
    # Before any review, as always: the ledger's date holds its own invoice, through that date.
    assert holds(env, D("2026-11-25")) == {"I1": PROMISE, "I2": "", "I3": ""}
    assert holds(env, D("2026-11-26"))["I1"] == ""
    review(env, TODAY)
    assert promises(env) == {"ledger|P1|USD|2026-11-25": (100_000, "2026-11-28", "open"),
                             "ledger|Q1|USD|2026-11-24": (7_000, "2026-11-27", "open")}
    # The promise holds every invoice of its customer and currency, through its date plus three days' grace.
    assert holds(env, D("2026-11-27")) == {"I1": PROMISE, "I2": PROMISE, "I3": PROMISE}
    assert holds(env, D("2026-11-28")) == {"I1": PROMISE, "I2": PROMISE, "I3": ""}
    # Q1 promises another date in the ledger: the first promise is withdrawn, not broken; the new one holds.
    with env.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE invoices SET promise_to_pay_date = '2026-12-10' WHERE invoice_number = 'I3'")
    review(env, D("2026-11-26"))
    review(env, D("2026-11-29"))
    assert {p: s for p, (_, _, s) in promises(env).items()} == {"ledger|P1|USD|2026-11-25": "broken",
                                                                 "ledger|Q1|USD|2026-11-24": "cancelled",
                                                                 "ledger|Q1|USD|2026-12-10": "open"}
    assert holds(env, D("2026-11-29")) == {"I1": "", "I2": "", "I3": PROMISE}


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_a_kept_promise_gets_one_thank_you_and_a_rerun_sends_nothing(env):
    start(env, Ledger().customer("K1", "Kestrel Ltd").invoice("IK", "K1", 20, 100_000, promise="2026-11-25"))
    review(env, TODAY)
    pay(env, "K1", "IK", "2026-11-24", 100_000)  # before the promised date: kept at once
    for _ in range(2):
        assert review(env, D("2026-11-24")).kept in (0, 1)
        dun(env, D("2026-11-24"))
    assert promises(env)["ledger|K1|USD|2026-11-25"][2] == "kept"
    [thanks] = mail(env, "promise|ledger|K1|USD|2026-11-25|kept")
    assert thanks["Subject"] == "Thank you for your payment of $1,000.00, as promised (Kestrel Ltd)"
    assert thanks["To"] == "Pat Doe0 <ap0@k1.example>"
    assert len(env.sandbox.smtp.messages) == 1


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_a_broken_promise_is_announced_once_called_first_and_a_repeat_tells_the_sales_rep_once(env, monkeypatch):
    emitted = []
    monkeypatch.setattr("tasks.promises.review.emit_event", lambda **event: emitted.append(event))
    start(env, Ledger().customer("B1", "Brick Co").invoice("IB", "B1", 20, 80_000, promise="2026-11-20")
          .customer("Z1", "Zenith", collector="Ann Lee").invoice("IZ", "Z1", 95, 9_000_000))
    review(env, TODAY)  # 2026-11-20 + 3 days' grace: still held today
    assert holds(env, TODAY)["IB"] == PROMISE
    for _ in range(2):
        review(env, D("2026-11-24"))
        dun(env, D("2026-11-24"))
    key = "ledger|B1|USD|2026-11-20"
    assert promises(env)[key] == (80_000, "2026-11-23", "broken")
    assert [e["resource"]["prefect.resource.id"] for e in emitted] == [f"arpilot.promise.{key}"]
    assert {r["prefect.resource.role"] for r in emitted[0]["related"]} == {"customer", "collector", "sales-rep"}
    [firm] = mail(env, f"promise|{key}|broken")
    text = firm.get_body(("plain",)).get_content()
    assert "promised a payment of $800.00 by November 20, 2026" in text and "IB" in text
    assert "was not kept" in firm["Subject"]
    # The call task is at the top of Ann Lee's list, above a far larger and older debt.
    calls = env.tmp / "dunning" / "2026-11-24" / "call-lists" / "ann-lee.csv"
    rows = list(csv.DictReader(calls.open()))
    assert [r["Customer id"] for r in rows] == ["B1", "Z1"] and "broke a promise" in rows[0]["Why"]
    assert mail(env, "promise|ledger|B1|USD|2026-11-20|sales") == []  # one broken promise: sales not told yet

    # A second promise, broken too: the sales rep is told, once.
    with env.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE invoices SET promise_to_pay_date = '2026-11-30' WHERE invoice_number = 'IB'")
    review(env, D("2026-11-25"))
    for day in ("2026-12-04", "2026-12-04", "2026-12-05"):
        review(env, D(day))
    second = "ledger|B1|USD|2026-11-30"
    assert promises(env)[second][2] == "broken" and len(emitted) == 2
    assert [m.message["X-Arpilot-Reference"] for m in env.sandbox.smtp.messages if m.rcpt_tos == [SALES]] == [
        f"promise|{second}|sales"]
    [told] = mail(env, f"promise|{second}|sales")
    assert "Brick Co (B1) broke a promise to pay again: 2 in 365 days" == told["Subject"]


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_the_record_promise_form_refuses_what_is_wrong_and_records_a_promise_that_holds_reminders(env):
    import asyncio

    from prefect.client.orchestration import get_client

    from flows.promises import record_promise

    start(env, Ledger().customer("R1", "Rook plc").invoice("IR", "R1", 10, 60_000))
    blocks = {"warehouse": env.params["warehouse"], "company": env.params["company"],
              "escalation_policy": f"arpilot-escalation-policy/{env.name}"}
    today = COMPANY.today()
    on = today + timedelta(days=10)

    def refused(**given) -> str:
        args = {"customer_id": "R1", "currency": "USD", "amount": "600.00", "promised_for": on,
                "taken_by": "Ann Lee"} | given
        state = record_promise(**args, **blocks, return_state=True)
        assert state.is_failed()
        return state.message

    assert "customer 'NOPE' is not in the warehouse" in refused(customer_id="NOPE")
    assert "customer R1 has no open invoices in EUR" in refused(currency="eur")
    assert "amount 0 must be more than 0" in refused(amount="0")
    message = refused(promised_for=today - timedelta(days=1), amount="1.001")
    assert f"is before today ({today}" in message and "more than two decimal places" in message
    assert promises(env) == {}

    state = record_promise("R1", "usd", "600.00", on, "Ann Lee", note="pays on the 10th", **blocks,
                           return_state=True)
    recorded = state.result()
    assert recorded.amount_cents == 60_000 and recorded.hold_until == on + timedelta(days=3)
    assert promises(env) == {recorded.promise_id: (60_000, str(on + timedelta(days=3)), "open")}
    assert recorded.promise_id.startswith("collector-")
    assert holds(env, on + timedelta(days=3)) == {"IR": PROMISE} and holds(env, on + timedelta(days=4)) == {"IR": ""}

    async def run_name():
        async with get_client() as client:
            return (await client.read_flow_run(state.state_details.flow_run_id)).name

    assert asyncio.run(run_name()) == f"promise-R1-USD-{on}"


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_the_cli_records_a_promise_taken_on_the_phone(env, capsys):
    from flows.cli import main

    start(env, Ledger().customer("C1").invoice("I1", "C1", 5, 25_000))
    on = COMPANY.today() + timedelta(days=7)
    args = ["promise", "record", "--customer", "C1", "--currency", "USD", "--amount", "1,250.50", "--on", str(on),
            "--by", "Ann Lee", "--warehouse", env.params["warehouse"], "--company", env.params["company"],
            "--escalation-policy", f"arpilot-escalation-policy/{env.name}"]
    assert main(args) == 0
    [(promise_id, promise)] = promises(env).items()
    assert promise_id.startswith("phone-") and promise == (125_050, str(on + timedelta(days=3)), "open")
    assert f"to pay 1250.50 by {on}" in capsys.readouterr().out
    assert main([*args[:9], "2020-01-01", *args[10:]]) == 1
    assert "Not recorded: promise for C1 USD not recorded: promised date 2020-01-01 is before today" in \
        capsys.readouterr().err
