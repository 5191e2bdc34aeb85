"""The executive one-pager: rates chosen by day, the rounding rule (company totals equal the converted per-currency
lines to the cent), "unknown" with the currency named where a rate is missing, targets and trend, the lists to
act on, the ledger's rates through the real sync and warehouse, and page 1 of the executive PDF."""

from __future__ import annotations

import subprocess
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest
import sqlalchemy as sa
from prefect.logging import disable_run_logger
from test_kpi import BUCKETS, INVOICE_COLUMNS, OCTOBER, hand_ledger
from test_kpi_casework import disputed_ledger

from blocks.company import CompanyProfile
from blocks.ledger import SqlLedgerSource
from blocks.report_recipients import ReportRecipients
from sandbox.sample_erp import generate
from tasks.kpi.ledger import Ledger, Period
from tasks.kpi.maths import collection_effectiveness, compute_kpis
from tasks.kpi.one_pager import (
    Headline,
    company_figures,
    company_headline,
    executive_one_pager,
    one_pager,
    previous_period,
)
from tasks.kpi.rates import (
    CompanyFigure,
    ExchangeRates,
    RatesConflict,
    RatesFileDamaged,
    company_total,
    convert,
    exchange_rates,
    read_rates_file,
)
from tasks.kpi.reports import Activity, build_reports, read_ledger
from tasks.ledger.entities import ENTITIES, EXCHANGE_RATES
from tasks.ledger.sync import sync_entity
from tasks.ledger.validation import ParseOptions, validate

RECIPIENTS = ReportRecipients(dso_target_days=Decimal("45"), cei_target_percent=Decimal("80"),
                              current_target_percent=Decimal("75"))


def rates(*rows: tuple[str, str, str], reporting: str = "USD") -> ExchangeRates:
    return ExchangeRates(pd.DataFrame(rows, columns=["rate_on", "currency", "rate"]), reporting, "test rates")


def test_the_rate_is_the_latest_on_or_before_the_day_and_says_which_day():
    book = rates(("2026-11-26", "EUR", "1.05"), ("2026-11-27", "EUR", "1.06"), ("2026-12-01", "EUR", "1.07"))
    used = book.rate_for("EUR", date(2026, 11, 30))  # a Monday after a weekend without rates: Friday's
    assert (used.rate, used.rate_on) == (Decimal("1.06"), date(2026, 11, 27))
    assert book.rate_for("EUR", date(2026, 12, 1)).rate == Decimal("1.07")
    assert book.rate_for("EUR", date(2026, 11, 25)) is None  # nothing before: no rate, never a later one
    assert book.rate_for("GBP", date(2026, 11, 30)) is None
    assert book.rate_for("USD", date(2026, 11, 30)).rate == 1  # the reporting currency itself


def test_rates_to_another_base_are_crossed_through_the_reporting_currency():
    book = rates(("2026-11-27", "EUR", "1.2"), ("2026-11-30", "GBP", "1.5"), ("2026-11-30", "JPY", "0.0066"),
                 reporting="EUR")  # rates in US dollars, the report in euros
    gbp = book.rate_for("GBP", date(2026, 11, 30))
    assert (gbp.rate, gbp.rate_on) == (Decimal("1.25"), date(2026, 11, 27))  # 1.5 / 1.2, as of the older rate
    assert book.rate_for("JPY", date(2026, 11, 30)).rate == Decimal("0.0055")
    assert book.rate_for("USD", date(2026, 11, 30)) is None  # the base itself has no rate in the table: unknown
    assert book.rate_for("GBP", date(2026, 11, 26)) is None  # no EUR rate yet to cross through


def test_company_total_is_the_sum_of_the_rounded_converted_lines_to_the_cent():
    # EUR 2.00 at 1.0875 is 2.175 USD, GBP 0.50 at 1.15 is 0.575 USD: each rounds half-even up to 2.18 and 0.58.
    amounts = {"USD": 10_00, "EUR": 2_00, "GBP": 50}
    book = rates(("2026-10-30", "EUR", "1.0875"), ("2026-10-30", "GBP", "1.15")).at(list(amounts), OCTOBER.end)
    lines = {c: convert(cents, book[c].rate) for c, cents in amounts.items()}
    assert lines == {"USD": 10_00, "EUR": 2_18, "GBP": 58}
    assert company_total(amounts, book, OCTOBER.end) == CompanyFigure(12_76)  # = 10.00 + 2.18 + 0.58
    # what the rule avoids: rounding after summing gives 12.75, float arithmetic per line 12.74
    unrounded = sum(Decimal(cents) * book[c].rate for c, cents in amounts.items())
    assert round(unrounded) == 12_75
    assert sum(round(cents * float(book[c].rate)) for c, cents in amounts.items()) == 12_74
    assert convert(3, Decimal("0.5")) == 2 and convert(5, Decimal("0.5")) == 2  # 1.5 and 2.5: half to even


def small_ledger() -> Ledger:
    """Open at the end of October: USD 10.00, EUR 2.00 and GBP 0.50, one invoice each, all past due."""
    inv = pd.DataFrame([(f"{c}1", c, c, "2026-09-01", "2026-09-30", cents, cents, "open", False, None, "Ann", "Sam")
                        for c, cents in (("USD", 10_00), ("EUR", 2_00), ("GBP", 50))], columns=INVOICE_COLUMNS)
    customers = pd.DataFrame([(c, f"Customer {c}", "Ann", "Sam", False, None) for c in ("USD", "EUR", "GBP")],
                             columns=["customer_id", "name", "collector", "sales_rep", "on_hold", "credit_limit_cents"])
    empty = pd.DataFrame(columns=["invoice_number", "kind", "settled_on", "amount_cents"])
    notes = pd.DataFrame(columns=["customer_id", "currency", "issue_date", "amount_cents", "collector", "sales_rep"])
    return Ledger(inv, empty, notes, customers)


def test_the_pages_open_ar_equals_its_converted_lines_to_the_cent():
    ledger = small_ledger()
    book = rates(("2026-10-30", "EUR", "1.0875"), ("2026-10-30", "GBP", "1.15"), ("2026-09-30", "EUR", "1.2"),
                 ("2026-09-30", "GBP", "1.3"))
    kpis = compute_kpis(ledger, OCTOBER, BUCKETS)
    page = one_pager(ledger, kpis, compute_kpis(ledger, previous_period(OCTOBER), BUCKETS), book, RECIPIENTS)
    open_ar, past_due = page.headlines[0], page.headlines[1]
    assert [(r["currency"], r["converted_cents"], r["rate_on"]) for r in page.rates] == [
        ("EUR", 2_18, date(2026, 10, 30)), ("GBP", 58, date(2026, 10, 30)), ("USD", 10_00, date(2026, 10, 31))]
    assert open_ar.now.value == sum(r["converted_cents"] for r in page.rates) == past_due.now.value == 12_76
    assert open_ar.previous.value == 10_00 + 2_40 + 65  # September's end at September's rates


def test_a_currency_without_a_rate_leaves_its_figures_unknown_and_names_it():
    # the hand ledger: EUR owes nothing at the end of October (no rate needed) but sold and collected 2,000.00
    ledger = hand_ledger()
    kpis = compute_kpis(ledger, OCTOBER, BUCKETS)
    figures = company_figures(ledger, kpis, rates().at(ledger.currencies, OCTOBER.end))
    assert figures["open_cents"] == CompanyFigure(1300_00)  # 0.00 EUR converts without a rate
    assert figures["collected_cents"] == CompanyFigure(None, "no EUR rate on or before 2026-10-31", 400_00)
    assert figures["cei"].value is None and figures["cei"].unknown_reason == "no EUR rate on or before 2026-10-31"
    assert figures["dso_countback"].unknown  # October's EUR sales cannot be converted
    cei = Headline("CEI", "percent", figures["cei"], CompanyFigure(Decimal("90")), Decimal("80"), True)
    assert cei.status is None and cei.trend is None  # unknown: never green, no trend


def test_company_dso_and_cei_use_the_converted_figures():
    ledger = hand_ledger()  # USD: AR 1,300 at both ends, sales 400, current 400 at the end; EUR: sales 2,000
    kpis = compute_kpis(ledger, OCTOBER, BUCKETS)
    book = rates(("2026-10-30", "EUR", "1.1"), ("2026-11-02", "EUR", "1.2")).at(ledger.currencies, OCTOBER.end)
    figures = company_figures(ledger, kpis, book)
    assert figures["collected_cents"].value == 400_00 + 2200_00  # EUR at 10-30's 1.1, not 11-02's 1.2
    # CEI = (1,300 + 400 + 2,200 - 1,300) / (1,300 + 400 + 2,200 - 400) = 2,600 / 3,500
    assert figures["cei"].value == collection_effectiveness(1300_00, 2600_00, 1300_00, 400_00) == Decimal("74.3")
    # countback: October's converted sales 2,600 cover the ending AR 1,300: 1,300 / 2,600 * 31 days
    assert figures["dso_countback"].value == Decimal("15.5")
    assert figures["percent_current"].value == Decimal("30.8")


def test_targets_red_green_unknown_and_the_trend():
    def line(now, before, higher=False, target=Decimal("45")):
        return Headline("DSO", "days", CompanyFigure(now), CompanyFigure(before), target, higher)

    better = line(Decimal("44.9"), Decimal("50"))
    assert (better.status, better.trend, better.improved) == ("green", "down", True)  # lower DSO is better
    assert line(Decimal("45"), None).status == "green" and line(Decimal("45"), None).trend is None
    same = line(Decimal("45.1"), Decimal("45.1"))
    assert (same.status, same.trend, same.improved) == ("red", "flat", None)
    assert line(None, Decimal("40")).status is None  # no figure: neither red nor green
    assert Headline("Open AR", "money", CompanyFigure(5), CompanyFigure(4)).status is None  # no target
    cei = line(Decimal("70"), Decimal("60"), higher=True, target=Decimal("80"))
    assert (cei.status, cei.trend, cei.improved) == ("red", "up", True)
    assert previous_period(OCTOBER) == Period(date(2026, 9, 1), date(2026, 9, 30))
    assert previous_period(Period(date(2026, 11, 24), date(2026, 11, 30))) == Period(date(2026, 11, 17),
                                                                                      date(2026, 11, 23))


def test_the_lists_to_act_on():
    ledger = disputed_ledger()
    # in force: Acme held by a credit review the ERP has not imported; Bolt's hold the ledger's (Cité: released)
    ledger.credit_holds = pd.DataFrame([("A", "arpilot", False, "Cleo CFO", "2026-10-29 10:00:00", "paid late twice"),
                                        ("B", "ledger", True, None, None, None)],
                                       columns=["customer_id", "source", "ledger_hold", "approved_by", "approved_at",
                                                "why"])
    kpis = compute_kpis(ledger, OCTOBER, BUCKETS)
    page = one_pager(ledger, kpis, compute_kpis(ledger, previous_period(OCTOBER), BUCKETS),
                     rates(("2026-10-31", "EUR", "1.1")), RECIPIENTS)
    # past due at 10-31: Acme's U1 600.00 (due 10-10), Bolt's U3 300.00; U2 is not yet due
    assert [(r["name"], r["converted_cents"], r["oldest_days"]) for r in page.overdue] == [
        ("Acme", 600_00, 21), ("Bolt", 300_00, 61)]
    assert [(r["invoice_number"], r["days_open"], r["reason"]) for r in page.disputes] == [
        ("U3", 20, "pricing"), ("U2", 6, "no reason given")]  # open longest first
    assert [(r["name"], r["converted_cents"]) for r in page.promises] == [("Cité", 990_00), ("Bolt", 300_00)]
    assert [(r["name"], r["in_ledger"], r["approved_by"], r["converted_cents"]) for r in page.holds] == [
        ("Acme", False, "Cleo CFO", 1000_00), ("Bolt", True, None, 300_00)]
    unconverted = one_pager(ledger, kpis, kpis, rates(), RECIPIENTS)
    assert unconverted.promises[-1]["converted_cents"] is None  # no EUR rate: listed last, with its own amount
    assert unconverted.promises[-1]["amounts"] == [("EUR", 900_00)]
    assert unconverted.promises[-1]["not_converted"] == "no EUR rate on or before 2026-10-31"
    assert unconverted.unconverted == ["no EUR rate on or before 2026-10-31"]  # said on the page
    email = company_headline(unconverted, "en_US")  # how the executives' email opens
    assert email.startswith("Company-wide in USD: Open AR $1,300.00; Past due $900.00; % current (not yet due) "
                            "30.8 %, off target;")
    assert "Collected in the period unknown." in email and email.endswith(
        " Unknown: no EUR rate on or before 2026-10-31.")


def test_rates_file_or_ledger_and_a_damaged_file_stops(tmp_path):
    good = tmp_path / "rates.csv"
    good.write_text("date,currency,rate\n2026-10-30,eur,1.0875\n2026-10-31,GBP, 1.15\n")
    assert read_rates_file(good).values.tolist() == [["2026-10-30", "EUR", "1.0875"], ["2026-10-31", "GBP", "1.15"]]
    ledger_rates = pd.DataFrame([("2026-10-30", "EUR", "9")], columns=["rate_on", "currency", "rate"])
    from_file = exchange_rates(ledger_rates, str(good), "USD")
    assert from_file.rate_for("EUR", OCTOBER.end).rate == Decimal("1.0875") and "rates file" in from_file.source
    assert exchange_rates(ledger_rates, None, "USD").rate_for("EUR", OCTOBER.end).rate == 9
    bad = tmp_path / "bad.csv"
    bad.write_text("date,currency,rate\n2026-10-30,EUR,1.08\n2026-10-31,GBP,one\n")
    with pytest.raises(RatesFileDamaged, match="line 3"):
        read_rates_file(bad)
    twice = tmp_path / "twice.csv"  # a correction appended instead of replacing the day's rate
    twice.write_text("date,currency,rate\n2026-10-30,EUR,1.0875\n2026-10-30,EUR,1.0880\n2026-10-30,GBP,1.15\n"
                     "2026-10-30,GBP,1.15\n")
    with pytest.raises(RatesConflict, match=r"EUR has different rates on 2026-10-30 \(1.0875, 1.0880\)"):
        exchange_rates(None, str(twice), "USD")


def test_the_recipients_block_names_the_reporting_currency_and_the_rates_file(tmp_path):
    assert ReportRecipients(reporting_currency=" eur ").reporting_currency == "EUR"
    assert ReportRecipients(reporting_currency="").reporting_currency is None  # the company's default currency
    with pytest.raises(ValueError, match="not an ISO 4217 currency"):
        ReportRecipients(reporting_currency="EURO")
    (tmp_path / "rates.csv").write_text("date,currency,rate\n2026-10-30,USD,0.9\n")
    ledger, company = hand_ledger(), CompanyProfile(legal_name="Test Co", default_currency="USD")
    kpis = compute_kpis(ledger, OCTOBER, BUCKETS)
    in_euros = ReportRecipients(reporting_currency="EUR", exchange_rates_file=str(tmp_path / "rates.csv"))
    page = executive_one_pager(ledger, kpis, company, in_euros, BUCKETS)
    assert (page.reporting_currency, page.headlines[0].now.value) == ("EUR", 1170_00)  # USD 1,300.00 at 0.9
    assert page.rates_source == f"rates file {tmp_path / 'rates.csv'}"
    in_dollars = executive_one_pager(ledger, kpis, company, ReportRecipients(), BUCKETS)
    assert (in_dollars.reporting_currency, in_dollars.headlines[0].now.value) == ("USD", 1300_00)
    assert in_dollars.rates_source == "the ledger's exchange rates"


def test_the_ledger_sync_refuses_a_rate_that_is_not_a_positive_decimal():
    rows = pd.DataFrame([(f"{c} 2026-10-30", "2026-10-30", c, rate)
                         for c, rate in (("EUR", "1.0875"), ("GBP", "0"), ("JPY", "1,5"), ("CHF", ""))],
                        columns=["rate_id", "rate_on", "currency", "rate"]).assign(row_ref=lambda f: f["rate_id"])
    checked = validate(EXCHANGE_RATES, rows, ParseOptions(), lambda entity, keys: pd.Series(dtype=object))
    assert checked.clean["rate"].tolist() == ["1.0875"]
    assert checked.quarantined["reason"].tolist() == ["rate '0' is not a positive decimal number",
                                                      "rate '1,5' is not a positive decimal number", "rate is missing"]
    nameless = rows.head(1).assign(currency=None)  # a ledger's default currency is no rate's currency
    refused = validate(EXCHANGE_RATES, nameless, ParseOptions(default_currency="USD"),
                       lambda entity, keys: pd.Series(dtype=object))
    assert refused.quarantined["reason"].tolist() == ["currency is missing: a rate names the currency it converts"]


def test_the_executive_pdf_opens_with_the_one_pager_from_the_synced_ledger(tmp_path, warehouse):
    erp = generate(tmp_path / "erp.sqlite", 400, seed=3, as_of=date(2026, 12, 2), bad_rows=0).path
    source = SqlLedgerSource(url=f"sqlite:///{erp}")
    for entity in ENTITIES:
        assert sync_entity(source, warehouse, entity, "run-1", "USD").quarantined == 0
    with warehouse.begin() as conn:  # a credit review holds a customer; the ERP has not imported it yet
        customer = conn.execute(sa.text("SELECT customer_id FROM customers WHERE NOT on_hold ORDER BY 1")).first()[0]
        conn.execute(sa.text(
            "INSERT INTO credit_limit_changes (change_id, customer_id, currency, limit_before_cents, limit_after_cents, "
            "hold_before, hold_after, ledger_limit_cents, ledger_hold, review_id, approved_by, approved_at, why) "
            "SELECT 'c1', customer_id, 'USD', credit_limit_cents, credit_limit_cents, FALSE, TRUE, credit_limit_cents, "
            "FALSE, 'r1', 'Cleo CFO', '2026-11-20 09:00:00', 'paid late twice' FROM customers WHERE customer_id = :c"),
            {"c": customer})
    ledger = read_ledger(warehouse, "America/Chicago")
    held = ledger.credit_holds.set_index("customer_id")
    assert (held.loc[customer, "source"], held.loc[customer, "why"]) == ("arpilot", "paid late twice")
    on_hold = ledger.customers["on_hold"].astype(bool)  # SQLite gives 0 and 1
    assert set(held.index) - {customer} == set(ledger.customers.loc[on_hold, "customer_id"])
    assert len(ledger.exchange_rates) > 9 * 300
    november = Period(date(2026, 11, 1), date(2026, 11, 30))
    company = CompanyProfile(legal_name="Test Co", time_zone="America/Chicago")
    recipients = ReportRecipients(executives=["cfo@example.com"], output_dir=str(tmp_path / "reports"))
    page = executive_one_pager(ledger, compute_kpis(ledger, november, BUCKETS), company, recipients, BUCKETS)
    assert page.reporting_currency == "USD" and not any(h.now.unknown for h in page.headlines)
    assert {r["rate_on"] for r in page.rates} == {date(2026, 11, 30)}  # the sample ERP has a rate every weekday
    assert page.headlines[0].now.value == sum(r["converted_cents"] for r in page.rates)
    assert any(r["approved_by"] == "Cleo CFO" and not r["in_ledger"] for r in page.holds)

    empty = pd.DataFrame(columns=["customer_id", "currency", "channel", "status", "planned_on", "reason"])
    activity = Activity(empty, empty.drop(columns="status"),
                        pd.DataFrame(columns=["check_name", "evaluated", "failed", "checked_on"]))
    with disable_run_logger():
        run = build_reports.fn(ledger, activity, november, company, recipients, "november")
    (executive,) = run.reports
    open_ar = f"${Decimal(run.one_pager.headlines[0].now.value).scaleb(-2):,.2f}"
    assert executive.summary.startswith(f"Company-wide in USD: Open AR {open_ar}; Past due ")
    first, second = (" ".join(subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), str(executive.pdf), "-"],
                                             capture_output=True, text=True, check=True).stdout.split())
                     for n in (1, 2))
    assert "The company at a glance, in USD" in first and "Five things to act on" in first
    for heading in ("Largest overdue accounts", "Oldest open disputes", "Broken promises to pay", "Credit holds"):
        assert heading in first
    assert open_ar in first and "30 Nov 2026" in first and "Rounding: each currency" in first
    assert "Department KPIs per currency against targets" in second and "Five things" not in second
