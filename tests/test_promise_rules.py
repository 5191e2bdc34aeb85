"""The rules of a promise to pay, on frames and a fixed clock: what the ledger's invoices promise, kept (early,
or within the grace) and broken, who hears of a repeat, the event, and what the customer and collector get."""

from __future__ import annotations

from datetime import date

import pandas as pd
from dunning_cases import COMPANY, TODAY, Ledger, at_local

from blocks.dunning_policy import DunningPolicy
from tasks.promises.notices import PROMISE_CHANNEL, plan_promise_notices, render_promise_notice
from tasks.promises.rules import broken_event, judge_promises, ledger_promises, sales_heads_up

D = date.fromisoformat


def test_the_ledger_gives_one_promise_per_customer_currency_and_date_for_what_is_open_on_it():
    invoices = pd.DataFrame([
        ("I1", "C1", "USD", "2026-12-01", 10_000), ("I2", "C1", "USD", "2026-12-01", 2_550),
        ("I3", "C1", "EUR", "2026-12-01", 700), ("I4", "C1", "USD", "2026-12-05", 1)],
        columns=["invoice_number", "customer_id", "currency", "promise_to_pay_date", "open_cents"])
    promises, covered = ledger_promises(invoices, grace_days=3)
    assert promises.to_dict("records") == [
        {"promise_id": "ledger|C1|EUR|2026-12-01", "customer_id": "C1", "currency": "EUR", "amount_cents": 700,
         "promised_for": D("2026-12-01"), "hold_until": D("2026-12-04")},
        {"promise_id": "ledger|C1|USD|2026-12-01", "customer_id": "C1", "currency": "USD", "amount_cents": 12_550,
         "promised_for": D("2026-12-01"), "hold_until": D("2026-12-04")},
        {"promise_id": "ledger|C1|USD|2026-12-05", "customer_id": "C1", "currency": "USD", "amount_cents": 1,
         "promised_for": D("2026-12-05"), "hold_until": D("2026-12-08")}]
    assert covered.groupby("promise_id")["invoice_number"].apply(list).to_dict() == {
        "ledger|C1|EUR|2026-12-01": ["I3"], "ledger|C1|USD|2026-12-01": ["I1", "I2"],
        "ledger|C1|USD|2026-12-05": ["I4"]}


def test_kept_early_at_once_kept_within_the_grace_and_broken_only_after_it():
    promises = pd.DataFrame([("early", "C1", "USD", 50_000, "2026-11-30", "2026-11-20"),
                             ("grace", "C2", "USD", 50_000, "2026-11-25", "2026-11-20"),
                             ("short", "C3", "USD", 50_000, "2026-11-22", "2026-11-20"),
                             ("waiting", "C4", "USD", 50_000, "2026-11-23", "2026-11-20")],
                            columns=["promise_id", "customer_id", "currency", "amount_cents", "hold_until",
                                     "recorded_on"])
    payments = pd.DataFrame([("C1", "USD", "2026-11-21", 50_000),  # early: kept before its date
                             ("C2", "USD", "2026-11-24", 30_000), ("C2", "USD", "2026-11-25", 20_000),  # in the grace
                             ("C3", "USD", "2026-11-19", 50_000),  # before the promise was taken: not towards it
                             ("C3", "EUR", "2026-11-21", 50_000),  # another currency
                             ("C3", "USD", "2026-11-21", 49_999),  # a cent short
                             ("C4", "USD", "2026-11-21", 10_000)],
                            columns=["customer_id", "currency", "received_on", "amount_cents"])
    def on(day: str) -> dict:
        verdicts = judge_promises(promises, payments[payments["received_on"] <= day], D(day))
        return {p: (s, c) for p, s, c in verdicts.itertuples(index=False)}

    assert on("2026-11-22") == {"early": ("kept", 50_000), "grace": ("open", 0), "short": ("open", 49_999),
                                "waiting": ("open", 10_000)}
    assert on("2026-11-23")["short"] == ("broken", 49_999) and on("2026-11-23")["waiting"] == ("open", 10_000)
    assert on("2026-11-24")["waiting"] == ("broken", 10_000)
    assert on("2026-11-25")["grace"] == ("kept", 50_000)


def test_the_sales_rep_hears_of_the_customers_latest_broken_promise_once_the_count_is_reached():
    broken = pd.DataFrame([("a", "C1", "2026-11-01", 1), ("b", "C2", "2026-11-02", 2), ("c", "C2", "2026-11-10", 2),
                           ("d", "C3", "2026-11-03", 3)],
                          columns=["promise_id", "customer_id", "promised_for", "broken_in_window"])
    assert sales_heads_up(broken, threshold=2)["promise_id"].tolist() == ["c", "d"]
    assert sales_heads_up(broken, threshold=4).empty


def test_a_broken_promise_event_names_the_promise_and_relates_the_customer_collector_and_sales_rep():
    event = broken_event({"promise_id": "ledger|C1|USD|2026-11-20", "customer_id": "C1", "customer_name": "Acme",
                          "currency": "USD", "amount_cents": 125_000, "paid_cents": None, "promised_for": "2026-11-20",
                          "source": "ledger", "taken_by": "ledger", "collector": "Ann Lee", "sales_rep": None,
                          "broken_in_window": 1})
    assert event["event"] == "arpilot.promise.broken"
    assert event["resource"]["prefect.resource.id"] == "arpilot.promise.ledger|C1|USD|2026-11-20"
    assert [(r["prefect.resource.id"], r["prefect.resource.role"]) for r in event["related"]] == [
        ("arpilot.customer.C1", "customer"), ("arpilot.collector.Ann Lee", "collector")]
    assert event["payload"]["amount_cents"] == 125_000 and event["payload"]["paid_cents"] == 0


def _rows(status: str, invoices: list[tuple], notice=None, call=None, customer="C1") -> list[dict]:
    base = {"promise_id": f"p-{customer}", "customer_id": customer, "currency": "USD", "amount_cents": 90_000,
            "promised_for": "2026-11-18", "status": status, "paid_cents": 90_000 if status == "kept" else 10_000,
            "customer_name": f"Customer {customer}", "collector": "Ann Lee", "dunning_stopped": False,
            "internal": False, "notice_status": notice, "call_status": call}
    return [base | {"invoice_number": n, "due_date": d, "open_cents": c} for n, d, c in invoices] or [
        base | {"invoice_number": None, "due_date": None, "open_cents": None}]


def test_kept_gets_a_thank_you_and_broken_a_firm_email_about_the_promise_and_a_call_task():
    ledger = Ledger().customer("C1").customer("C2").customer("C3")
    _, _, contacts = ledger.frames()
    rows = pd.DataFrame(_rows("kept", []) + _rows("broken", [("I2", "2026-10-01", 80_000)], customer="C2")
                        + _rows("broken", [], customer="C3"))
    notices, skips = plan_promise_notices(rows, contacts, DunningPolicy(), COMPANY, at_local(TODAY, 11))
    assert sorted(n.key for n in notices) == ["promise|p-C1|kept", "promise|p-C2|broken", "promise|p-C2|call"]
    assert skips[["customer_id", "reason"]].values.tolist() == [["C3", "nothing open any more"]]
    kept = next(n for n in notices if n.kind == "kept")
    firm = next(n for n in notices if n.kind == "broken" and n.channel == PROMISE_CHANNEL)
    thanks = render_promise_notice(kept, COMPANY, DunningPolicy())
    assert thanks.subject == "Thank you for your payment of $900.00, as promised (Customer C1)"
    assert "Pay now" not in thanks.html and "November 18, 2026" in thanks.text
    text = render_promise_notice(firm, COMPANY, DunningPolicy())
    assert "$900.00 by November 18, 2026" in text.subject and "$800.00" in text.subject
    assert "promised a payment of $900.00 by November 18, 2026" in text.text and "I2" in text.text


def test_notices_already_in_the_outbox_or_outside_local_hours_are_not_planned_again():
    ledger = Ledger().customer("C1")
    _, _, contacts = ledger.frames()
    rows = pd.DataFrame(_rows("broken", [("I1", "2026-10-01", 80_000)], notice="sent", call="sent"))
    assert plan_promise_notices(rows, contacts, DunningPolicy(), COMPANY, at_local(TODAY, 11))[0] == []
    late = pd.DataFrame(_rows("broken", [("I1", "2026-10-01", 80_000)], call="sent"))
    notices, skips = plan_promise_notices(late, contacts, DunningPolicy(), COMPANY, at_local(TODAY, 22))
    assert notices == [] and skips["reason"].tolist() == ["deferred: outside local window"]
