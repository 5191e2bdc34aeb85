"""A credit hold changes dunning: the planner reads the hold in force (an approved hold before the ERP has it, on
SQLite and PostgreSQL), its reminders are at least firm (a customer override's tone still caps them), and the
customer comes first on the collector's call list after broken promises."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

import pytest
from dunning_cases import COMPANY, Ledger, seed
from test_credit_decisions import PROPOSALS
from test_dunning_plan import plan

from blocks.dunning_policy import CustomerOverride, DunningPolicy
from tasks import warehouse as wh
from tasks.credit.decisions import CreditDecision, Override, decide
from tasks.credit.records import apply_decisions, record_proposals
from tasks.dunning.results import _write_call_lists


def dunning_customers(engine) -> dict[str, bool]:
    with engine.connect() as conn:
        frame = wh.query_frame(conn, wh.named_query("dunning", "customers"))
    return {r.customer_id: bool(r.credit_hold) for r in frame.itertuples()}


def test_an_approved_hold_reaches_the_next_dunning_plan_before_the_erp_has_it(warehouse):
    ledger = Ledger().customer("C1").invoice("I1", "C1", 5).customer("C2").invoice("I2", "C2", 5)
    ledger.customers[1]["on_hold"] = True  # the ERP's own hold
    seed(warehouse, ledger)
    assert dunning_customers(warehouse) == {"C1": False, "C2": True}
    with warehouse.begin() as conn:
        record_proposals(conn, "run-1", ledger.today, "schedule", PROPOSALS[:1])
        decided, _ = decide(PROPOSALS[:1], CreditDecision(decided_by="Dana", overrides=[
            Override(customer_id="C1", hold=True, why="three broken promises")]))
        apply_decisions(conn, "run-1", decided, "Dana", datetime(2026, 11, 23, 9, tzinfo=UTC), "")
    assert dunning_customers(warehouse) == {"C1": True, "C2": True}


@pytest.mark.parametrize(("days_late", "usual"), [(5, "friendly"), (20, "firm"), (61, "final")])
def test_a_hold_makes_reminders_at_least_firm(days_late, usual):
    ledger = (Ledger().customer("C1", on_hold=True).invoice("I1", "C1", days_late)
              .customer("C2").invoice("I2", "C2", days_late))
    tones = {(m.customer_id, m.channel): m.tone for m in plan(ledger).messages}
    assert tones[("C2", "email")] == usual
    assert tones[("C1", "email")] == ("firm" if usual == "friendly" else usual)


def test_a_customer_overrides_tone_still_caps_a_held_customers_reminders():
    policy = DunningPolicy(escalation_to=["ar-manager@northwind.example"],
                           overrides={"C1": CustomerOverride(tone="friendly")})
    tones = {m.tone for m in plan(Ledger().customer("C1", on_hold=True).invoice("I1", "C1", 20), policy).messages}
    assert tones == {"friendly"}


def test_held_customers_come_first_on_the_call_list(prefect_api, tmp_path):
    ledger = (Ledger().customer("C1", "Big Owes").invoice("I1", "C1", 31, 9_000_000)
              .customer("C2", "Held Small", on_hold=True).invoice("I2", "C2", 31, 50_000))
    calls = [m for m in plan(ledger).messages if m.channel == "call"]
    folder = _write_call_lists(calls, tmp_path / "call-lists", COMPANY)
    with (folder / "ann-lee.csv").open() as f:
        listed = [(r["Customer"], r["Why"]) for r in csv.DictReader(f)]
    assert listed == [("Held Small", "credit hold"), ("Big Owes", "")]
