"""The nightly's credit watch on a real warehouse (SQLite and PostgreSQL), a real SMTP relay and a real Prefect API:
a customer over the limit in force is reported to the collector and the sales rep once per breach, and the news
that starts a review early (limit exceeded, a large new dispute, autopay failed for good) reaches Prefect's events,
each once."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from dunning_cases import COMPANY, TODAY, Ledger, seed
from prefect.client.orchestration import get_client

from blocks.credit_policy import CreditPolicy
from blocks.report_recipients import ReportRecipients
from tasks.credit.watch import watch_credit

ANN, SAM = "ann@northwind.example", "sam@northwind.example"
RECIPIENTS = ReportRecipients(collectors={"Ann Lee": ANN}, sales_reps={"Sam Rep": SAM})


@pytest.fixture
def books(warehouse):
    """C1 owes 12,000.00 on a 10,000.00 limit; C2 disputes 20,000.00 of its 50,000.00 limit (40 %), C3's autopay
    charge failed for good, C4 owes little."""
    ledger = Ledger(TODAY)
    for customer, owed, disputed in (("C1", 1_200_000, False), ("C2", 2_000_000, True), ("C3", 100_000, False),
                                     ("C4", 10_000, False)):
        ledger.customer(customer, f"Customer {customer}", sales_rep="Sam Rep").invoice(
            f"I-{customer}", customer, 20, owed, disputed=disputed)
    seed(warehouse, ledger)
    with warehouse.begin() as conn:
        for customer, limit in (("C1", 1_000_000), ("C2", 5_000_000), ("C3", 1_000_000), ("C4", 1_000_000)):
            conn.execute(sa.text("UPDATE customers SET credit_limit_cents = :l, currency = 'USD' "
                                 "WHERE customer_id = :c"), {"l": limit, "c": customer})
        conn.execute(sa.text(
            "INSERT INTO invoice_disputes (invoice_number, opened_at, dispute_id, currency, amount_cents) "
            "VALUES ('I-C2', :t, 'I-C2@2026-11-22', 'USD', 2000000)"), {"t": datetime(2026, 11, 22, 8)})
        conn.execute(sa.text(
            "INSERT INTO charges (charge_key, customer_id, currency, charge_day, attempt, amount_cents, "
            "gateway_customer, payment_method, method_type, status, failure_kind, failure_code, failure_reason, "
            "run_id, owner, reserved_at, updated_at) VALUES ('C3|USD|2026-11-21', 'C3', 'USD', '2026-11-21', 3, "
            "100000, 'cus_1', 'pm_1', 'card', 'failed', 'hard', 'card_declined', 'Your card was declined.', 'r', "
            "'o', '2026-11-21 09:00:00', '2026-11-21 09:00:05')"))
    return warehouse


def night(engine, sandbox, day=TODAY):
    return watch_credit(engine_store(engine), COMPANY, CreditPolicy(), RECIPIENTS, sandbox.email,
                        "arpilot-email-channel/test", day, f"run-{day}")


def engine_store(engine):
    from blocks.warehouse import ArWarehouse

    return ArWarehouse(url=engine.url.render_as_string(hide_password=False))


def events_since(since: datetime, names: list[str], expected: int, seconds: float = 20) -> list[tuple[str, str]]:
    """The events Prefect's API holds since ``since`` (it stores them a moment after they are emitted)."""
    async def read():
        async with get_client() as client:
            answer = await client._client.post("/events/filter", json={"filter": {
                "occurred": {"since": since.isoformat()}, "event": {"name": names}}, "limit": 50})
            return sorted((e["event"], e["payload"]["customer_id"]) for e in answer.json()["events"])

    deadline = time.monotonic() + seconds
    while True:
        found = asyncio.run(read())
        if len(found) >= expected or time.monotonic() >= deadline:
            return found
        time.sleep(0.5)


def subjects(smtp, address: str) -> list[str]:
    return [m.message["Subject"] for m in smtp.messages if address in m.rcpt_tos]


NAMES = ["arpilot.credit.limit-exceeded", "arpilot.credit.large-dispute", "arpilot.credit.autopay-failed"]


def test_a_breach_is_reported_once_and_the_news_reaches_prefects_events_once(prefect_api, books, sandbox):
    since = datetime.now(UTC) - timedelta(seconds=1)
    watch = night(books, sandbox)
    assert [(b.customer_id, b.limit_cents, b.open_cents) for b in watch.new] == [("C1", 1_000_000, 1_200_000)]
    assert subjects(sandbox.smtp, ANN) == subjects(sandbox.smtp, SAM) == [
        "Customer C1 (C1) is over its credit limit by $2,000.00"]
    assert events_since(since, NAMES, 3) == [("arpilot.credit.autopay-failed", "C3"),
                                             ("arpilot.credit.large-dispute", "C2"),
                                             ("arpilot.credit.limit-exceeded", "C1")]

    again = night(books, sandbox)  # the same night run again, and the next night: nothing twice
    later = night(books, sandbox, TODAY + timedelta(days=1))
    assert (again.new, again.events, later.new, later.events) == ([], [], [], [])
    assert [b.customer_id for b in later.over] == ["C1"] and len(sandbox.smtp.messages) == 1
    time.sleep(2)
    assert len(events_since(since, NAMES, 3, seconds=0)) == 3


def test_a_new_breach_after_coming_back_under_the_limit_is_reported_again(prefect_api, books, sandbox):
    night(books, sandbox)
    with books.begin() as conn:  # C1 pays 3,000.00: under its limit
        conn.execute(sa.text("UPDATE invoices SET open_cents = 900000 WHERE invoice_number = 'I-C1'"))
    back = night(books, sandbox, TODAY + timedelta(days=1))
    assert (back.over, back.ended) == ([], 1)
    with books.begin() as conn:  # and buys again
        conn.execute(sa.text("UPDATE invoices SET open_cents = 1100000 WHERE invoice_number = 'I-C1'"))
    over = night(books, sandbox, TODAY + timedelta(days=2))
    assert [(b.customer_id, b.started_on) for b in over.new] == [("C1", str(TODAY + timedelta(days=2)))]
    assert subjects(sandbox.smtp, ANN) == ["Customer C1 (C1) is over its credit limit by $2,000.00",
                                           "Customer C1 (C1) is over its credit limit by $1,000.00"]
    with books.connect() as conn:
        assert [tuple(map(str, r)) for r in conn.execute(sa.text(
            "SELECT started_on, ended_on FROM credit_breaches ORDER BY started_on"))] == [
            ("2026-11-23", "2026-11-24"), ("2026-11-25", "None")]


def test_a_notice_the_relay_refused_goes_the_next_night(prefect_api, books, sandbox):
    sandbox.smtp.fail_next(3)
    first = night(books, sandbox)
    assert [s for _, s, _ in first.mail.unsent] == ["owed"] and subjects(sandbox.smtp, ANN) == []
    night(books, sandbox, TODAY + timedelta(days=1))
    assert subjects(sandbox.smtp, ANN) == ["Customer C1 (C1) is over its credit limit by $2,000.00"]


def test_a_second_nightly_the_same_day_reopens_the_breach_and_tells_nobody_twice(prefect_api, books, sandbox):
    night(books, sandbox)
    for owed in (900_000, 1_100_000):  # paid under the limit, then over it again, before a second nightly that day
        with books.begin() as conn:
            conn.execute(sa.text("UPDATE invoices SET open_cents = :o WHERE invoice_number = 'I-C1'"), {"o": owed})
        again = night(books, sandbox)
    assert [b.customer_id for b in again.over] == ["C1"] and again.events == []
    assert subjects(sandbox.smtp, ANN) == ["Customer C1 (C1) is over its credit limit by $2,000.00"]
