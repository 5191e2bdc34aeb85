"""Credit signals counted by hand on a small ledger: a year of one customer's invoices, payments, disputes, promises
and charges, and a customer the ledger says little about."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pandas as pd
from test_kpi import INVOICE_COLUMNS, NO_NOTES

from blocks.credit_policy import CreditPolicy
from tasks.credit.scorecard import review
from tasks.credit.signals import credit_signals
from tasks.kpi.ledger import Ledger

AS_OF = date(2026, 11, 30)  # the review months: 2025-11-30 (excluded) to 2026-11-30


def ledger() -> Ledger:
    """A (USD limit 10,000.00):
    I0 issued 2023-02-01, paid 2023-03-01 (long before the review months: only the account's age)
    I1 issued 2026-01-05 due 02-04 1,000.00 paid 02-14: 10 days late
    I2 issued 2026-09-01 due 10-01 3,000.00 paid 10-01: on time (within the last 3 months)
    I3 issued 2026-10-15 due 11-14 2,000.00 open
    E1 issued 2026-03-01 due 03-31 EUR 5,000.00 paid 60 days late: another currency, not weighed with dollars
    B (no limit): B1 issued 2026-11-01, open, nothing paid."""
    inv = pd.DataFrame([
        ("I0", "A", "USD", "2023-02-01", "2023-03-03", 50_000, 0, "paid", False, None, "Ann", "Sam"),
        ("I1", "A", "USD", "2026-01-05", "2026-02-04", 100_000, 0, "paid", False, None, "Ann", "Sam"),
        ("I2", "A", "USD", "2026-09-01", "2026-10-01", 300_000, 0, "paid", False, None, "Ann", "Sam"),
        ("I3", "A", "USD", "2026-10-15", "2026-11-14", 200_000, 200_000, "open", False, None, "Ann", "Sam"),
        ("E1", "A", "EUR", "2026-03-01", "2026-03-31", 500_000, 0, "paid", False, None, "Ann", "Sam"),
        ("B1", "B", "USD", "2026-11-01", "2026-12-01", 70_000, 70_000, "open", False, None, "Bo", "Sam"),
    ], columns=INVOICE_COLUMNS)
    settlements = pd.DataFrame([("I0", "payment", "2023-03-01", 50_000), ("I1", "payment", "2026-02-14", 100_000),
                                ("I2", "payment", "2026-10-01", 300_000), ("E1", "payment", "2026-05-30", 500_000)],
                               columns=["invoice_number", "kind", "settled_on", "amount_cents"])
    disputes = pd.DataFrame([("I1", "2026-06-01", "2026-06-20"), ("I0", "2023-02-20", "2023-02-25")],
                            columns=["invoice_number", "opened_on", "closed_on"])
    promises = pd.DataFrame([("P1", "A", "USD", 100_000, "2026-06-30", "Ann", "2026-06-01", "broken", "2026-07-01"),
                             ("P0", "A", "USD", 100_000, "2025-01-10", "Ann", "2025-01-01", "broken", "2025-01-11"),
                             ("P2", "A", "USD", 100_000, "2026-10-01", "Ann", "2026-09-20", "kept", "2026-10-01")],
                            columns=["promise_id", "customer_id", "currency", "amount_cents", "promised_for",
                                     "taken_by", "recorded_on", "status", "resolved_on"])
    customers = pd.DataFrame([("A", "Acme", "Ann", "Sam", False, 1_000_000), ("B", "Beta", "Bo", "Sam", False, None)],
                             columns=["customer_id", "name", "collector", "sales_rep", "on_hold", "credit_limit_cents"])
    return Ledger(inv, settlements, NO_NOTES.copy(), customers, disputes=disputes, promises=promises)


LIMITS = pd.DataFrame([("A", "USD", 1_000_000), ("B", "USD", None)],
                      columns=["customer_id", "currency", "credit_limit_cents"])
CHARGES = pd.DataFrame([("A", "2026-05-05", "failed"), ("A", "2026-06-05", "succeeded"), ("A", "2025-05-05", "failed")],
                       columns=["customer_id", "charge_day", "status"])


def test_signals_counted_by_hand():
    acme, beta = credit_signals(ledger(), LIMITS, CHARGES, AS_OF)
    assert acme.values == {
        "days_beyond_terms": D("2.5"),  # (10 x 1,000 + 0 x 3,000) / 4,000; the late euros are not weighed in
        "late_share": D("25.0"),  # 1,000 of 4,000 dollars paid late
        "dbt_trend": D("-10.0"),  # 0 days in the last three months, 10 before
        "utilisation": D("20.0"),  # 2,000 open of 10,000
        "peak_utilisation": D("30.0"),  # 3,000 owed at the end of September
        "disputes": D(1), "broken_promises": D(1), "failed_charges": D(1),  # the older ones are outside the months
        "account_months": D(45),  # since 1 February 2023
        "add": D("90.0"),  # 2,000 past due / 2,000 sold in the last 90 days (I3; I2 on 1 September is outside) x 90
        "sales_volume": D("6000.00")}  # I1 + I2 + I3; I0 is older, E1 is in euros
    assert acme.why == {}
    assert beta.values["days_beyond_terms"] is None and beta.values["utilisation"] is None
    assert beta.why == {"days_beyond_terms": "no payment received in the review months",
                        "late_share": "no payment received in the review months",
                        "dbt_trend": "no payment received in the review months",
                        "utilisation": "no credit limit on file", "peak_utilisation": "no credit limit on file"}
    assert beta.values["account_months"] == D(0)
    assert (beta.values["add"], beta.values["sales_volume"]) == (D("0.0"), D("700.00"))  # nothing past due yet


def test_the_review_of_those_signals_says_why_in_words():
    acme, beta = (review(s, CreditPolicy()) for s in credit_signals(ledger(), LIMITS, CHARGES, AS_OF))
    assert (acme.score, acme.recommendation, acme.proposed_limit_cents) == (75, "lower", 700_000)
    assert acme.reasons == ("a customer for 45 months (+10)", "90 days delinquent on average (ADD) (-10)",
                            "1 broken promise(s) (-10)",
                            "1 failed autopay charge(s) (-10)", "25 % of payments late (-10)",
                            "pays on time (on average 2.5 days late) (+5)")
    assert beta.recommendation == "keep" and beta.score == 90  # a new account: -10, the rest unknown
    assert "no credit limit on file" in " ".join(beta.reasons)


def test_a_payment_within_the_grace_is_not_late_for_the_late_share_but_its_days_still_count():
    acme, _ = credit_signals(ledger(), LIMITS, CHARGES, AS_OF, late_grace_days=10)  # I1 was 10 days late
    assert (acme.values["late_share"], acme.values["days_beyond_terms"]) == (D("0.0"), D("2.5"))
    acme, _ = credit_signals(ledger(), LIMITS, CHARGES, AS_OF, late_grace_days=9)
    assert acme.values["late_share"] == D("25.0")


def test_a_limit_of_zero_is_a_limit_not_a_missing_one():
    zero = LIMITS.assign(credit_limit_cents=[0, None])
    acme, beta = credit_signals(ledger(), zero, CHARGES, AS_OF)
    assert acme.values["utilisation"] is None
    assert acme.why["utilisation"] == "a credit limit of 0 (no credit): no share of it to measure"
    assert beta.why["utilisation"] == "no credit limit on file"
