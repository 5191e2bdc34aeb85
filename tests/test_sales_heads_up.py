"""Sales before the final notice, as rules with a fixed clock: which accounts' reps are asked and when (never
twice), and what dunning does with the answer (hold: nothing until the hold ends; soften: firm; silence: final)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from dunning_cases import COMPANY, TODAY, Ledger, at_local

from blocks.dunning_policy import CustomerOverride, DunningPolicy
from tasks.dunning.plan import SALES_HOLD, SendHistory, plan_dunning
from tasks.sales.heads_up import accounts_to_ask, hold_until, refusal

POLICY = DunningPolicy(escalation_to=["ar-manager@northwind.example"])  # final steps at 60 and 90 days


def asked_today(ledger: Ledger, asked=frozenset(), policy: DunningPolicy = POLICY, today: date = TODAY) -> dict:
    invoices, customers, _ = ledger.frames()
    found = accounts_to_ask(invoices, customers, set(asked), policy, 7, today)
    return {(r.customer_id, r.currency): (r.step, r.final_on, r.sales_rep) for r in found.itertuples()}


def ledger() -> Ledger:
    return (Ledger()
            .customer("C1", sales_rep="Rita Reyes").invoice("I1", "C1", 53).invoice("I1b", "C1", 10)
            .customer("C2", sales_rep="Rita Reyes").invoice("I2", "C2", 52)  # 8 days to go: not yet
            .customer("C3", sales_rep="Sam Stone").invoice("I3", "C3", 60)  # reached it already; 90 is far
            .customer("C4", sales_rep="Sam Stone").invoice("I4", "C4", 58, disputed=True).invoice("I4b", "C4", 20)
            .customer("C5", sales_rep="Sam Stone", stopped=True).invoice("I5", "C5", 56)
            .customer("C6").invoice("I6", "C6", 59, currency="EUR").invoice("I6b", "C6", 85, currency="EUR")
            .invoice("I6c", "C6", 1))  # C6's USD account is far from any final step


def test_who_is_asked_and_when_over_the_days_before_the_final_notice():
    cases = ledger()
    first = asked_today(cases)
    assert set(first) == {("C1", "USD"), ("C6", "EUR")}
    assert first[("C1", "USD")] == (60, date(2026, 11, 30), "Rita Reyes")
    assert first[("C6", "EUR")] == (90, date(2026, 11, 28), None)  # the oldest invoice counts, not the latest
    asked = {(c, cur, step, final_on) for (c, cur), (step, final_on, _) in first.items()}
    assert asked_today(cases, asked) == {}  # asked once about that final notice, never twice
    tomorrow = TODAY + timedelta(days=1)
    later = Ledger(tomorrow)
    later.customers, later.invoices = cases.customers, cases.invoices  # the same invoices, a day older
    assert set(asked_today(later, asked, today=tomorrow)) == {("C2", "USD")}  # C2 now 7 days from its final step


def test_disputed_stopped_and_softened_for_good_accounts_are_not_asked():
    policy = DunningPolicy(overrides={"C1": CustomerOverride(tone="firm")})
    assert ("C1", "USD") not in asked_today(ledger(), policy=policy)  # no final notice to discuss
    assert ("C4", "USD") not in asked_today(ledger()) and ("C5", "USD") not in asked_today(ledger())


def test_a_decision_says_who_and_why_and_a_hold_lasts_the_policys_days():
    assert refusal("hold", "Rita Reyes", "renewal signed") is None and refusal("proceed", "Rita", "") is None
    assert refusal("hold", "Rita Reyes", " ") == "'hold' needs a reason"
    assert refusal("soften", "", "key account") == "a decision needs the name of who made it"
    assert refusal("pause", "Rita", "x").startswith("'pause' is not one of")
    assert hold_until(TODAY, 14) == date(2026, 12, 7)


def final_day_plan(answer: tuple | None, day: date):
    """C1's invoice reaches the 60-day final step on 2026-11-30; the rep's answer was given on TODAY."""
    cases = Ledger(day).customer("C1", "Acme Corp", sales_rep="Rita Reyes").invoice("I1", "C1", (day - TODAY).days + 53)
    if answer:
        cases.sales["C1"] = answer
    invoices, customers, contacts = cases.frames()
    return plan_dunning(invoices, customers, contacts, SendHistory(), POLICY, COMPANY, at_local(day, 11))


FINAL_DAY = date(2026, 11, 30)


@pytest.mark.parametrize(("answer", "tone"), [(None, "final"), ((None, 60), "firm"), ((None, 90), "final")])
def test_silence_sends_the_final_notice_and_soften_sends_that_step_firm(answer, tone):
    plan = final_day_plan(answer, FINAL_DAY)
    assert {(m.channel, m.step, m.tone) for m in plan.messages} == {
        ("email", 60, tone), ("call", 60, tone), ("escalation", 60, tone)}


def test_a_hold_keeps_the_account_back_until_its_last_day_and_the_final_notice_follows():
    hold = (hold_until(TODAY, 14).isoformat(), None)  # 2026-12-07
    held = final_day_plan(hold, FINAL_DAY)
    assert held.messages == [] and set(held.skips["reason"]) == {SALES_HOLD}
    assert set(held.skips["channel"]) == {"email", "call", "escalation"}
    assert final_day_plan(hold, date(2026, 12, 7)).messages == []
    released = final_day_plan(hold, date(2026, 12, 8))
    assert {(m.channel, m.step, m.tone) for m in released.messages} == {
        ("email", 60, "final"), ("call", 60, "final"), ("escalation", 60, "final")}
