"""Disputes by age and reason, escalations, and promises to pay kept and broken, as the KPI reports show them:
hand-made frames counted by hand, each audience's scope, "unknown" instead of 0, the warehouse's records as the
reports read them, and the three reports rendered to HTML and PDF."""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
import pytest
import sqlalchemy as sa
from prefect.logging import disable_run_logger
from test_kpi import BUCKETS, OCTOBER, hand_ledger

from blocks.company import CompanyProfile
from blocks.report_recipients import ReportRecipients
from reports.builder import environment
from tasks.kpi.disputes import NO_REASON, age_band_labels, dispute_bands, disputes_by_age_and_reason
from tasks.kpi.maths import Ledger, Period, compute_kpis
from tasks.kpi.promises import promise_outcomes, promises_unknown
from tasks.kpi.reports import Activity, build_reports, read_ledger

DISPUTES = ["invoice_number", "opened_on", "closed_on", "reason_code", "reason_text", "level", "level_raised_on"]
PROMISES = ["promise_id", "customer_id", "currency", "amount_cents", "promised_for", "taken_by", "recorded_on",
            "status", "resolved_on"]


def test_age_bands_are_the_escalation_policys_level_days_or_fixed():
    assert age_band_labels((10, 30)) == ["0–9 days", "10–29 days", "30+ days"]
    assert dispute_bands([]) == (10, 30)  # no policy, or one without levels
    assert dispute_bands([30, 7]) == (7, 30) and age_band_labels((7,)) == ["0–6 days", "7+ days"]


def test_open_disputes_by_reason_age_escalation_and_amount_per_currency():
    disputes = pd.DataFrame([
        ("P1", "USD", 100_00, 0, "pricing", "wrong unit price", 0),
        ("P2", "USD", 250_00, 9, "pricing", "wrong unit price", 0),
        ("P3", "EUR", 300_00, 10, "pricing", "discount missing", 1),
        ("P4", "USD", 50_00, 45, "pricing", None, 2),
        ("Q1", "EUR", 700_00, 30, "quality", "damaged goods", None),  # raised from 2 since the period end
        ("N1", "USD", 20_00, 29, None, None, 0),
        ("N2", "GBP", 40_00, 31, " ", None, 1),
    ], columns=["invoice_number", "currency", "open_cents", "days_open", "reason_code", "reason_text", "level"])
    rows = disputes_by_age_and_reason(disputes, (10, 30))
    assert [r["reason"] for r in rows] == ["pricing", NO_REASON, "quality", "all reasons"]
    pricing, none, quality, total = rows
    assert pricing["by_age"] == [2, 1, 1]  # 0 and 9 days; 10; 45
    assert (pricing["escalated"], pricing["escalation_unknown"]) == (2, 0)
    assert pricing["amounts"] == [("EUR", 300_00), ("USD", 400_00)]  # never one total across currencies
    assert pricing["reason_texts"] == ["wrong unit price", "discount missing"]
    assert (none["by_age"], none["escalated"], none["amounts"]) == ([0, 1, 1], 1, [("GBP", 40_00), ("USD", 20_00)])
    assert (quality["by_age"], quality["escalated"], quality["escalation_unknown"]) == ([0, 0, 1], 0, 1)
    assert total["total"] and total["disputes"] == 7 and total["by_age"] == [2, 2, 3] and total["escalated"] == 3
    assert total["amounts"] == [("EUR", 1000_00), ("GBP", 40_00), ("USD", 420_00)]
    assert disputes_by_age_and_reason(disputes.iloc[0:0]) == []


def disputed_ledger() -> Ledger:
    """The hand ledger with dispute records: U3 (Bo's, 300.00 USD) seen 10-11 for "pricing", raised to level 1 on
    10-21; U2 (Ann's, 400.00 USD) seen 10-25 without a reason, raised straight to level 2 on 11-03 (after the
    period); U1 disputed 09-20 to 10-02, closed."""
    ledger = hand_ledger()
    records = pd.DataFrame([
        ("U3", "2026-10-11", None, "pricing", "unit price above the contract", 1, "2026-10-21"),
        ("U2", "2026-10-25", None, None, None, 2, "2026-11-03"),
        ("U1", "2026-09-20", "2026-10-02", "quality", "late delivery", 0, None),
    ], columns=DISPUTES)
    return Ledger(ledger.invoices, ledger.settlements, ledger.credit_notes, ledger.customers, disputes=records,
                  promises=pd.DataFrame(PROMISE_ROWS, columns=PROMISES))


# Customers A (Acme: Ann, Sam), B (Bolt: Bo, Tia), C (Cité: Ann, Tia), around October 2026.
PROMISE_ROWS = [
    ("k1", "A", "USD", 400_00, "2026-10-05", "ann", "2026-10-01", "kept", "2026-10-06"),
    ("b1", "B", "USD", 300_00, "2026-10-20", "portal", "2026-10-12", "broken", "2026-10-24"),
    ("b2", "C", "EUR", 900_00, "2026-10-28", "ledger", "2026-10-20", "broken", "2026-10-31"),
    ("o1", "A", "USD", 150_00, "2026-10-30", "ann", "2026-10-10", "kept", "2026-11-03"),  # open at 10-31
    ("o2", "B", "USD", 75_00, "2026-11-04", "bo", "2026-10-30", "open", None),
    ("c1", "C", "EUR", 50_00, "2026-10-18", "ann", "2026-10-02", "cancelled", "2026-10-15"),  # neither
    ("n1", "A", "USD", 99_00, "2026-11-20", "ann", "2026-11-02", "open", None),  # recorded after the period
    ("s1", "A", "USD", 10_00, "2026-09-15", "ann", "2026-09-01", "kept", "2026-09-16"),  # decided in September
]


def test_the_disputes_table_carries_reason_and_level_at_the_period_end():
    kpis = compute_kpis(disputed_ledger(), OCTOBER, BUCKETS)
    table = kpis.disputes.set_index("invoice_number")
    assert table.loc["U3", ["reason_code", "reason_text", "level"]].tolist() == [
        "pricing", "unit price above the contract", 1]
    # U2 went from 0 to 2 on 11-03: at 10-31 it was below 2, which level exactly is unknown
    assert pd.isna(table.loc["U2", "level"]) and pd.isna(table.loc["U2", "reason_code"])
    rows = {r["reason"]: r for r in kpis.dispute_ages}
    assert rows["pricing"]["by_age"] == [0, 1, 0] and rows["pricing"]["escalated"] == 1  # 20 days open
    assert rows[NO_REASON]["by_age"] == [1, 0, 0] and rows[NO_REASON]["escalation_unknown"] == 1  # 6 days
    assert rows["all reasons"]["amounts"] == [("USD", 700_00)]
    raised_once = disputed_ledger()
    raised_once.disputes.loc[raised_once.disputes["invoice_number"] == "U3", "level_raised_on"] = \
        pd.Timestamp("2026-11-02")
    table = compute_kpis(raised_once, OCTOBER, BUCKETS).disputes.set_index("invoice_number")
    assert table.loc["U3", "level"] == 0  # went up to 1 after the period end: it was 0 then


def test_disputes_by_age_are_scoped_to_each_audience():
    ann = compute_kpis(disputed_ledger().scoped("collector", "Ann"), OCTOBER, BUCKETS)
    assert [r["reason"] for r in ann.dispute_ages] == [NO_REASON]  # U2 only: U3 is Bo's
    tia = compute_kpis(disputed_ledger().scoped("sales_rep", "Tia"), OCTOBER, BUCKETS)
    assert [(r["reason"], r["amounts"]) for r in tia.dispute_ages] == [("pricing", [("USD", 300_00)])]


def test_disputes_unknown_before_any_sync_recorded_one_say_so_not_zero():
    september = compute_kpis(disputed_ledger(), Period(date(2026, 9, 1), date(2026, 9, 30)), BUCKETS)
    assert september.disputes_unknown is None  # U1's record was seen from 09-20
    never = hand_ledger()
    never = Ledger(never.invoices, never.settlements, never.credit_notes, never.customers)
    kpis = compute_kpis(never, OCTOBER, BUCKETS)
    assert kpis.dispute_ages == [] and kpis.disputes_unknown
    section = str(environment("en_US").get_template("_sections.html.j2").module.dispute_ages(
        kpis.dispute_ages, age_band_labels((10, 30)), kpis.disputes_unknown))
    assert "Open disputes by age and reason are unknown: invoices are disputed, but no sync has recorded" in section
    assert "<table" not in section


def test_promises_kept_broken_and_open_in_a_period_per_currency():
    promises = disputed_ledger().promises
    outcomes = promise_outcomes(promises, OCTOBER)
    assert outcomes["USD"] == {"promises_kept": 1, "promises_kept_cents": 400_00, "promises_broken": 1,
                               "promises_broken_cents": 300_00, "promises_open": 2, "promises_open_cents": 225_00}
    assert outcomes["EUR"] == {"promises_kept": 0, "promises_kept_cents": 0, "promises_broken": 1,
                               "promises_broken_cents": 900_00, "promises_open": 0, "promises_open_cents": 0}
    kpis = compute_kpis(disputed_ledger(), OCTOBER, BUCKETS)
    usd = next(c for c in kpis.currencies if c.currency == "USD")
    assert (usd.promises_kept, usd.promises_broken, usd.promises_open) == (1, 1, 2) and not kpis.promises_unknown
    assert kpis.broken_promises[["promise_id", "name", "taken_by"]].values.tolist() == [
        ["b2", "Cité", "ledger"], ["b1", "Bolt", "portal"]]  # latest promised date first


def test_promises_are_scoped_to_the_collectors_and_reps_customers():
    ann = compute_kpis(disputed_ledger().scoped("collector", "Ann"), OCTOBER, BUCKETS)  # A and C
    usd, eur = (next(c for c in ann.currencies if c.currency == code) for code in ("USD", "EUR"))
    assert (usd.promises_kept, usd.promises_broken, usd.promises_open_cents) == (1, 0, 150_00)
    assert (eur.promises_broken, eur.promises_broken_cents) == (1, 900_00)
    assert ann.broken_promises["customer_id"].tolist() == ["C"]
    sam = compute_kpis(disputed_ledger().scoped("sales_rep", "Sam"), OCTOBER, BUCKETS)  # A only
    assert sam.broken_promises.empty


def test_promises_before_the_first_record_are_unknown_not_zero():
    assert promises_unknown(date(2026, 10, 1), OCTOBER) is None
    assert "recorded from 2026-10-02, after the start" in promises_unknown(date(2026, 10, 2), OCTOBER)
    september = compute_kpis(disputed_ledger(), Period(date(2026, 8, 1), date(2026, 8, 31)), BUCKETS)
    usd = next(c for c in september.currencies if c.currency == "USD")  # the first promise was recorded 09-01
    assert usd.promises_kept is None and usd.promises_broken_cents is None and "promises_kept" in usd.unknown
    assert "promises to pay are recorded from 2026-09-01" in usd.unknown_reason
    kpis = compute_kpis(hand_ledger(), OCTOBER, BUCKETS)  # invoices carry promise dates, no record at all
    assert kpis.promises_unknown.startswith("invoices carry promises to pay, but none has been recorded")
    section = str(environment("en_US").get_template("_sections.html.j2").module.promises(kpis))
    assert "Promises to pay kept and broken in the period are unknown" in section and "<table" not in section


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_the_reports_read_dispute_reasons_levels_and_promise_records_from_the_warehouse(warehouse):
    at = "2026-10-01 00:00:00"
    with warehouse.begin() as conn:
        conn.execute(sa.text("INSERT INTO customers (customer_id, name, collector, sales_rep, row_hash, synced_at) "
                             "VALUES ('A', 'Acme', 'Ann', 'Sam', 1, :at)"), {"at": at})
        conn.execute(sa.text(
            "INSERT INTO invoices (invoice_number, customer_id, issue_date, due_date, currency, amount_cents, "
            "open_cents, status, disputed, row_hash, synced_at) VALUES "
            "('I1', 'A', '2026-09-01', '2026-09-30', 'USD', 50000, 50000, 'open', TRUE, 1, :at)"), {"at": at})
        conn.execute(sa.text(
            "INSERT INTO invoice_disputes (invoice_number, opened_at, dispute_id, reason_code, reason_text, "
            "currency, amount_cents, level, level_raised_at) VALUES ('I1', '2026-10-05 08:00:00', 'd1', 'pricing', "
            "'wrong price', 'USD', 50000, 1, '2026-10-16 01:00:00')"))
        conn.execute(sa.text(
            "INSERT INTO promises (promise_id, customer_id, currency, amount_cents, promised_for, hold_until, "
            "source, taken_by, recorded_on, recorded_at, status, resolved_on) VALUES "
            "('p1', 'A', 'USD', 20000, '2026-10-10', '2026-10-13', 'phone', 'Ann', '2026-10-01', :at, 'broken', "
            "'2026-10-14')"), {"at": at})
    kpis = compute_kpis(read_ledger(warehouse, "Europe/Berlin"), OCTOBER, BUCKETS)
    (usd,) = kpis.currencies
    assert (usd.promises_broken, usd.promises_broken_cents, usd.promises_kept) == (1, 200_00, 0)
    assert kpis.broken_promises[["name", "taken_by"]].values.tolist() == [["Acme", "Ann"]]
    assert kpis.disputes[["reason_code", "reason_text", "level", "days_open"]].values.tolist() == [
        ["pricing", "wrong price", 1, 26]]  # seen 10-05 (Berlin), raised 10-16: level 1 at 10-31


def test_the_three_reports_show_disputes_by_age_and_promises(tmp_path):
    recipients = ReportRecipients(executives=["cfo@example.com"], collectors={"Ann": "ann@example.com"},
                                  sales_reps={"Tia": "tia@example.com"}, output_dir=str(tmp_path))
    empty = pd.DataFrame(columns=["customer_id", "currency", "channel", "status", "planned_on", "reason"])
    activity = Activity(empty, empty.drop(columns="status"),
                        pd.DataFrame(columns=["check_name", "evaluated", "failed", "checked_on"]))
    with disable_run_logger():
        run = build_reports.fn(disputed_ledger(), activity, OCTOBER, CompanyProfile(legal_name="Test Co"), recipients,
                               "october", dispute_bands=(7, 21))
    html = {r.audience: r.html.read_text() for r in run.reports}
    assert all(r.pdf.read_bytes().startswith(b"%PDF") for r in run.reports)
    text = {k: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", v)) for k, v in html.items()}
    executive, collector, sales = text["executive"], text["collector"], text["sales"]
    assert "Open disputes by age and reason" in executive
    assert "Reason 0–6 days 7–20 days 21+ days Escalated Open amount" in executive
    assert "pricing unit price above the contract – 1 – 1 $300.00" in executive  # 20 days open, level 1
    assert "no reason given 1 – – 0 (+1 unknown) $400.00" in executive
    assert "All reasons 1 1 – 1 (+1 unknown) $700.00" in executive
    assert "Promises to pay kept 0 of 1 1 of 2" in executive  # EUR, USD
    assert "USD 1 · $400.00 1 · $300.00 2 · $225.00" in executive
    # Ann's report: her customers only (U2 without a reason; Cité's broken EUR promise)
    assert "no reason given" in collector and "pricing" not in collector
    assert "Promises your customers broke in the period" in collector
    assert "Cité (C) €900.00 28 Oct 2026 ledger 31 Oct 2026" in collector and "Bolt" not in collector
    # Tia's report: Bolt's U3 for pricing, level 1
    assert "Open disputes on your accounts by age and reason" in sales and "pricing" in sales
    assert "U3 Bolt Tia pricing : unit price above the contract 1 $300.00" in sales
