"""KPI formulas: DESIGN.md's worked examples, and a ledger small enough to compute by hand (partial payments,
a credit note, a dispute, a promise, two currencies)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd

from tasks.kpi.maths import (
    Ledger,
    Period,
    average_days_delinquent,
    balances_at,
    best_possible_dso,
    collection_effectiveness,
    compute_kpis,
    dso_countback,
    dso_period_end,
    last_month_end,
    months_back,
)

BUCKETS = [30, 60, 90]


def test_countback_dso_reproduces_the_worked_example():
    assert dso_countback(212_000_00, [(100_000_00, 30), (80_000_00, 30), (70_000_00, 30)]) == Decimal("73.7")


def test_cei_reproduces_the_worked_example():
    assert collection_effectiveness(6_200_00, 10_890_00, 6_340_00, 3_590_00) == Decimal("79.6")


def test_formulas_without_a_denominator_say_so_instead_of_dividing_by_zero():
    assert dso_countback(0, []) is None
    assert dso_countback(5_00, [(0, 30)]) is None
    assert dso_period_end(100, 0, 90) is None
    assert best_possible_dso(100, -5, 90) is None
    assert average_days_delinquent(None, Decimal("3")) is None
    assert collection_effectiveness(0, 0, 0, 0) is None


def test_countback_counts_whole_months_until_the_ar_is_covered():
    assert dso_countback(50_00, [(100_00, 31), (100_00, 30)]) == Decimal("15.5")
    assert dso_countback(100_00, [(100_00, 31), (100_00, 30)]) == Decimal("31.0")
    # a month of net credit notes (negative sales) covers nothing: its days all count
    assert dso_countback(150_00, [(-20_00, 31), (100_00, 30), (100_00, 31)]) == Decimal("76.5")
    # AR older than all the sales given: every month counts, a floor
    assert dso_countback(500_00, [(100_00, 30), (100_00, 30)]) == Decimal("60.0")


def test_period_end_dso_best_possible_and_add():
    dso, bpdso = dso_period_end(1_300_00, 1_400_00, 90), best_possible_dso(400_00, 1_400_00, 90)
    assert (dso, bpdso, average_days_delinquent(dso, bpdso)) == (Decimal("83.6"), Decimal("25.7"), Decimal("57.9"))


def test_months_are_calendar_months_the_latest_up_to_the_period_end():
    assert months_back(date(2026, 10, 31), 3) == [
        Period(date(2026, 10, 1), date(2026, 10, 31)), Period(date(2026, 9, 1), date(2026, 9, 30)),
        Period(date(2026, 8, 1), date(2026, 8, 31))]
    # a 30-day month's end: June is 1-30 June, not 31 May-30 June; May is all of May
    assert months_back(date(2026, 6, 30), 3) == [
        Period(date(2026, 6, 1), date(2026, 6, 30)), Period(date(2026, 5, 1), date(2026, 5, 31)),
        Period(date(2026, 4, 1), date(2026, 4, 30))]
    # around February: from 31 March, from the end of February, and in a leap year
    assert months_back(date(2026, 3, 31), 2) == [Period(date(2026, 3, 1), date(2026, 3, 31)),
                                                 Period(date(2026, 2, 1), date(2026, 2, 28))]
    assert months_back(date(2026, 2, 28), 2) == [Period(date(2026, 2, 1), date(2026, 2, 28)),
                                                 Period(date(2026, 1, 1), date(2026, 1, 31))]
    assert months_back(date(2028, 3, 1), 2) == [Period(date(2028, 3, 1), date(2028, 3, 1)),
                                                Period(date(2028, 2, 1), date(2028, 2, 29))]
    # mid-month: the month to date, then whole months
    assert months_back(date(2026, 11, 23), 2) == [Period(date(2026, 11, 1), date(2026, 11, 23)),
                                                  Period(date(2026, 10, 1), date(2026, 10, 31))]
    assert [last_month_end(d) for d in (date(2026, 6, 30), date(2026, 7, 15), date(2026, 3, 1), date(2028, 2, 29))] \
        == [date(2026, 6, 30), date(2026, 6, 30), date(2026, 2, 28), date(2028, 2, 29)]
    assert Period.month_of(date(2026, 2, 11)) == Period(date(2026, 2, 1), date(2026, 2, 28))
    assert Period.week_ending(date(2026, 11, 22)).days == 7


def june_ledger() -> Ledger:
    """Three USD invoices around 30 June 2026, counted by hand in the tests below.

    J1 issued 05-31 due 06-30    600.00 open
    J2 issued 06-15 due 07-15    900.00 open
    M1 issued 05-10 due 06-09  1,200.00: paid 900.00 on 06-20, 300.00 open
    """
    inv = pd.DataFrame([
        ("J1", "A", "USD", "2026-05-31", "2026-06-30", 600_00, 600_00, "open", False, None, "Ann", "Sam"),
        ("J2", "A", "USD", "2026-06-15", "2026-07-15", 900_00, 900_00, "open", False, None, "Ann", "Sam"),
        ("M1", "A", "USD", "2026-05-10", "2026-06-09", 1200_00, 300_00, "open", False, None, "Ann", "Sam"),
    ], columns=INVOICE_COLUMNS)
    settlements = pd.DataFrame([("M1", "payment", "2026-06-20", 900_00)],
                               columns=["invoice_number", "kind", "settled_on", "amount_cents"])
    return Ledger(inv, settlements, NO_NOTES.copy(), pd.DataFrame(
        [("A", "Acme", "Ann", "Sam", False, None)],
        columns=["customer_id", "name", "collector", "sales_rep", "on_hold", "credit_limit_cents"]))


def test_countback_at_30_june_walks_calendar_months():
    kpis = compute_kpis(june_ledger(), Period(date(2026, 6, 1), date(2026, 6, 30)), BUCKETS)
    # AR at 30 June: J1 600 + J2 900 + M1 300 = 1,800. June (1-30 June) sales: J2 900, covered: 30 days, 900 left.
    # May (31 days) sales: J1 600 + M1 1,200 = 1,800: 900 / 1,800 * 31 = 15.5 days. DSO = 45.5.
    # (Months anchored at 30 June took 31 May-30 June as "June": 1,500 over 31 days, then 1-30 May: 38.5.)
    assert kpis.currencies[0].dso_countback == Decimal("45.5")
    usd = kpis.trend.set_index("month_end")
    assert usd.loc[date(2026, 6, 30), "dso_countback"] == Decimal("45.5")
    # at 31 May: J1 600 + M1 1,200 = 1,800 owed, exactly May's sales: 31.0 days (not 30 May and a 30-day "May")
    assert usd.loc[date(2026, 5, 31), "dso_countback"] == Decimal("31.0")


def test_mid_month_countback_counts_the_month_to_date_and_the_trend_stays_on_month_ends():
    kpis = compute_kpis(june_ledger(), Period(date(2026, 7, 1), date(2026, 7, 15)), BUCKETS)
    # AR at 15 July 1,800; 1-15 July has no sales: its 15 days count; June 900: 30 days; May 900 / 1,800 * 31
    assert kpis.currencies[0].dso_countback == Decimal("60.5")
    assert kpis.trend["month_end"].iloc[-1] == date(2026, 6, 30)
    assert all(last_month_end(d) == d for d in kpis.trend["month_end"])


INVOICE_COLUMNS = ["invoice_number", "customer_id", "currency", "issue_date", "due_date", "amount_cents", "open_cents",
                   "status", "disputed", "promise_to_pay_date", "collector", "sales_rep"]
DISPUTE_COLUMNS = ["invoice_number", "opened_on", "closed_on"]
NO_NOTES = pd.DataFrame(columns=["customer_id", "currency", "issue_date", "amount_cents", "collector", "sales_rep"])


def hand_ledger() -> Ledger:
    """October 2026, computed by hand in the tests below.

    USD  U1 A  issued 09-10 due 10-10  1,000.00: paid 400.00 on 10-05 and 600.00 on 11-05 (after the period)
         U2 A  issued 10-15 due 11-14    500.00: credit note 100.00 on 10-20, 400.00 open
         U3 B  issued 08-01 due 08-31    300.00: disputed (first seen 10-11), promised for 10-20, still open
         U4 B  issued 11-10 due 12-10    700.00: after the period, open
    EUR  E1 C  issued 10-01 due 10-31  2,000.00: paid in full on 10-31, as promised
    """
    inv = pd.DataFrame([
        ("U1", "A", "USD", "2026-09-10", "2026-10-10", 1000_00, 0, "paid", False, None, "Ann", "Sam"),
        ("U2", "A", "USD", "2026-10-15", "2026-11-14", 500_00, 400_00, "open", False, None, "Ann", "Sam"),
        ("U3", "B", "USD", "2026-08-01", "2026-08-31", 300_00, 300_00, "open", True, "2026-10-20", "Bo", "Tia"),
        ("U4", "B", "USD", "2026-11-10", "2026-12-10", 700_00, 700_00, "open", False, None, "Bo", "Tia"),
        ("E1", "C", "EUR", "2026-10-01", "2026-10-31", 2000_00, 0, "paid", False, "2026-10-31", "Ann", "Tia"),
    ], columns=INVOICE_COLUMNS)
    disputes = pd.DataFrame([("U3", "2026-10-11", None)], columns=DISPUTE_COLUMNS)
    settlements = pd.DataFrame([
        ("U1", "payment", "2026-10-05", 400_00), ("U1", "payment", "2026-11-05", 600_00),
        ("U2", "credit_note", "2026-10-20", 100_00), ("E1", "payment", "2026-10-31", 2000_00),
    ], columns=["invoice_number", "kind", "settled_on", "amount_cents"])
    notes = pd.DataFrame([("A", "USD", "2026-10-20", 100_00, "Ann", "Sam")],
                         columns=["customer_id", "currency", "issue_date", "amount_cents", "collector", "sales_rep"])
    customers = pd.DataFrame([("A", "Acme", "Ann", "Sam", False, None), ("B", "Bolt", "Bo", "Tia", True, None),
                              ("C", "Cité", "Ann", "Tia", False, None)],
                             columns=["customer_id", "name", "collector", "sales_rep", "on_hold", "credit_limit_cents"])
    return Ledger(inv, settlements, notes, customers, disputes=disputes)


OCTOBER = Period(date(2026, 10, 1), date(2026, 10, 31))


def test_balances_are_rebuilt_at_any_past_day_and_equal_open_ar_today():
    b = balances_at(hand_ledger(), [date(2026, 9, 30), date(2026, 10, 31), date(2026, 11, 23)])
    usd = b[b["currency"] == "USD"].set_index("day")
    assert usd.loc[date(2026, 9, 30)].tolist() == ["USD", 1300_00, 1000_00, 0]  # U1 not due yet, U3 overdue
    assert usd.loc[date(2026, 10, 31)].tolist() == ["USD", 1300_00, 400_00, 0]  # U1 600 + U2 400 + U3 300; U2 current
    assert usd.loc[date(2026, 11, 23), "total_cents"] == 400_00 + 300_00 + 700_00  # today's open amounts
    eur = b[b["currency"] == "EUR"].set_index("day")
    assert eur["total_cents"].tolist() == [0, 0, 0]  # paid on the day it fell due: nothing owed at the end of it


def test_hand_computed_october_in_two_currencies():
    kpis = compute_kpis(hand_ledger(), OCTOBER, BUCKETS)
    usd, eur = (next(c for c in kpis.currencies if c.currency == code) for code in ("USD", "EUR"))
    assert (usd.open_cents, usd.current_cents, usd.past_due_cents) == (1300_00, 400_00, 900_00)
    assert usd.sales_cents == 400_00  # U2 500 - credit note 100
    assert usd.cei == Decimal("30.8")  # (1300 + 400 - 1300) / (1300 + 400 - 400)
    assert usd.percent_current == Decimal("30.8")
    assert usd.dso_countback == Decimal("58.0")  # October 400 covers 31 days, 900 of September's 1,000: 27 days
    assert (usd.dso_period_end, usd.best_possible_dso, usd.average_days_delinquent) == (
        Decimal("83.6"), Decimal("25.7"), Decimal("57.9"))  # 90 days from 08-03: sales 1,000 + 500 - 100
    assert (usd.collected_cents, usd.credited_cents) == (400_00, 100_00)
    assert (usd.average_days_to_pay, usd.average_days_beyond_terms) == (Decimal("25.0"), Decimal("-5.0"))
    assert (usd.disputed_invoices, usd.disputed_cents) == (1, 300_00)
    assert usd.disputed_average_days_open == Decimal("20.0")  # first seen 10-11, open to 10-31
    assert usd.promises_kept is None and "promises_kept" in usd.unknown  # promise dates, but no promise records
    assert (eur.open_cents, eur.sales_cents, eur.cei, eur.collected_cents) == (0, 2000_00, Decimal("100.0"), 2000_00)
    assert eur.average_days_to_pay == Decimal("30.0")
    assert eur.percent_current is None  # nothing owed: no percentage, not NaN


def test_aging_at_the_period_end_adds_up_to_open_ar_per_currency():
    kpis = compute_kpis(hand_ledger(), OCTOBER, BUCKETS)
    usd = kpis.aging[kpis.aging["currency"] == "USD"].set_index("bucket")["open_cents"]
    assert usd.to_dict() == {"not_due": 400_00, "1-30": 600_00, "31-60": 0, "61-90": 300_00, "90+": 0}
    assert kpis.aging_reconciles
    assert "U4" not in set(kpis.disputes["invoice_number"])  # issued after the cut-off
    assert kpis.top_overdue[["currency", "customer_id", "past_due_cents"]].values.tolist() == [
        ["USD", "A", 600_00], ["USD", "B", 300_00]]


def test_a_collectors_scope_holds_only_their_customers():
    ann = compute_kpis(hand_ledger().scoped("collector", "Ann"), OCTOBER, BUCKETS)
    usd = next(c for c in ann.currencies if c.currency == "USD")
    assert usd.open_cents == 1000_00 and usd.disputed_invoices == 0  # U1 600 + U2 400; U3 is Bo's
    assert set(ann.accounts["customer_id"]) == {"A"}
    assert {c.currency for c in ann.currencies} == {"USD", "EUR"}


def test_the_trend_has_a_point_per_month_and_no_nan():
    kpis = compute_kpis(hand_ledger(), OCTOBER, BUCKETS)
    usd = kpis.trend[kpis.trend["currency"] == "USD"]
    assert len(usd) == 12 and usd["month_end"].iloc[-1] == date(2026, 10, 31)
    assert usd["dso_countback"].iloc[-1] == Decimal("58.0") and usd["cei"].iloc[-1] == Decimal("30.8")
    for column in ("dso_countback", "cei"):  # a month without sales has no figure (None), never NaN
        assert all(v is None or isinstance(v, Decimal) and v.is_finite() for v in kpis.trend[column])


def test_a_period_without_any_ledger_is_empty_not_an_error():
    empty = hand_ledger()
    empty = Ledger(empty.invoices.iloc[0:0].copy(), empty.settlements.iloc[0:0].copy(),
                   empty.credit_notes.iloc[0:0].copy(), empty.customers.iloc[0:0].copy())
    kpis = compute_kpis(empty, OCTOBER, BUCKETS)
    assert kpis.empty and kpis.aging.empty and kpis.top_overdue.empty


def test_a_scope_with_no_accounts_is_empty():
    assert compute_kpis(hand_ledger().scoped("collector", "Nobody"), OCTOBER, BUCKETS).empty


def test_disputes_are_aged_from_the_day_a_sync_first_saw_them():
    ledger = hand_ledger()
    # U2 (due 11-14, not yet due at 10-31) seen disputed from 10-25; U1 disputed 09-20 to 10-02 (paid since);
    # U4 seen disputed from 11-12, after the period end
    ledger = Ledger(ledger.invoices, ledger.settlements, ledger.credit_notes, ledger.customers, disputes=pd.DataFrame(
        [("U3", "2026-10-11", None), ("U2", "2026-10-25", None), ("U1", "2026-09-20", "2026-10-02"),
         ("U4", "2026-11-12", None)], columns=DISPUTE_COLUMNS))
    kpis = compute_kpis(ledger, OCTOBER, BUCKETS)
    usd = next(c for c in kpis.currencies if c.currency == "USD")
    # U3 open 20 days (10-11 to 10-31), U2 6 days (10-25 to 10-31): 13.0. (Days past due, 61 and -14, gave 23.5.)
    assert (usd.disputed_invoices, usd.disputed_cents, usd.disputed_average_days_open) == (2, 700_00, Decimal("13.0"))
    assert kpis.disputes.set_index("invoice_number")["days_open"].to_dict() == {"U2": 6, "U3": 20}
    september = compute_kpis(ledger, Period(date(2026, 9, 1), date(2026, 9, 30)), BUCKETS)
    assert september.disputes_unknown is None
    # at 09-30 U1 (1,000 owed) was disputed for 10 days; U3 was not yet, though the ledger flags it disputed today
    assert september.disputes[["invoice_number", "days_open"]].values.tolist() == [["U1", 10]]


def test_what_was_disputed_before_any_sync_saw_a_dispute_is_unknown():
    ledger = hand_ledger()  # U3 first seen disputed on 10-11
    september = compute_kpis(ledger, Period(date(2026, 9, 1), date(2026, 9, 30)), BUCKETS)
    usd = next(c for c in september.currencies if c.currency == "USD")
    assert usd.disputed_invoices is None and usd.disputed_cents is None and "disputed_cents" in usd.unknown
    assert "disputes are known from 2026-10-11" in usd.unknown_reason and september.disputes.empty
    assert september.disputes_unknown.startswith("disputes are known from 2026-10-11")
    assert september.accounts["disputed_cents"].isna().all()  # not 0
    never = Ledger(ledger.invoices, ledger.settlements, ledger.credit_notes, ledger.customers)  # no sync record
    assert "no sync has recorded since when" in compute_kpis(never, OCTOBER, BUCKETS).disputes_unknown


def undated_ledger() -> Ledger:
    """The hand ledger, but U1's payments were never given a date: the ledger only says it is paid."""
    ledger = hand_ledger()
    s = ledger.settlements
    return Ledger(ledger.invoices, s[s["invoice_number"] != "U1"].copy(), ledger.credit_notes, ledger.customers,
                  ledger.open_as_of, ledger.disputes)


def test_an_invoice_paid_on_a_day_the_ledger_does_not_give_makes_past_balances_unknown_not_zero():
    kpis = compute_kpis(undated_ledger(), OCTOBER, BUCKETS)
    usd, eur = (next(c for c in kpis.currencies if c.currency == code) for code in ("USD", "EUR"))
    # U1 (issued 09-10) may have been owed on any day up to the last sync: every USD balance from then is unknown
    for name in ("open_cents", "past_due_cents", "percent_current", "dso_countback", "dso_period_end", "cei",
                 "collected_cents", "average_days_to_pay", "disputed_cents"):
        assert getattr(usd, name) is None and name in usd.unknown, name
    assert usd.sales_cents == 400_00 and usd.credited_cents == 100_00  # issue dates are known
    assert "1 invoice(s) issued on 2026-09-10 are paid" in usd.unknown_reason
    assert "1,000.00 USD" in usd.unknown_reason
    # EUR's history is whole (its promises are unknown only for want of promise records)
    assert {f for f in eur.unknown if not f.startswith("promises_")} == set() and eur.cei == Decimal("100.0")
    assert kpis.aging.empty and kpis.top_overdue.empty and kpis.aging_reconciles  # no USD aging rather than a wrong one
    usd_trend = kpis.trend[kpis.trend["currency"] == "USD"].set_index("month_end")
    assert usd_trend.loc[date(2026, 8, 31), "dso_countback"] is not None  # before U1 was issued: known
    assert usd_trend.loc[date(2026, 9, 30), "dso_countback"] is None
    assert usd_trend.loc[date(2026, 10, 31), "cei"] is None


def test_balances_from_the_day_the_open_amounts_were_read_are_known():
    ledger = undated_ledger()
    ledger.open_as_of = date(2026, 11, 23)  # the nightly's own day: its open amounts are that day's balances
    today = compute_kpis(ledger, Period(date(2026, 11, 23), date(2026, 11, 23)), BUCKETS)
    usd = next(c for c in today.currencies if c.currency == "USD")
    assert usd.open_cents == 400_00 + 300_00 + 700_00 and "open_cents" not in usd.unknown
    assert usd.cei is None and "cei" in usd.unknown  # the day before still needs U1's payment day


def test_a_ledger_whose_payments_are_all_dated_has_no_undated_invoices():
    assert hand_ledger().undated().empty


def test_a_scope_without_disputes_of_its_own_still_knows_only_what_the_syncs_recorded():
    # the syncs recorded their first dispute (Bo's U3) on 10-11: before then nobody's disputes are known
    ann = hand_ledger().scoped("collector", "Ann")
    assert ann.disputes.empty
    assert compute_kpis(ann, Period(date(2026, 9, 1), date(2026, 9, 30)), BUCKETS).disputes_unknown
    usd = next(c for c in compute_kpis(ann, OCTOBER, BUCKETS).currencies if c.currency == "USD")
    assert usd.disputed_invoices == 0 and "disputed_invoices" not in usd.unknown
