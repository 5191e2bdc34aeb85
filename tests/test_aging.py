"""Aging by the company's calendar: buckets, due-today, time zones, currencies kept apart, sums to the cent."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd
import pytest

from blocks.company import CompanyProfile
from tasks.aging import age_invoices, aging_summary, bucket_labels


def _invoices(rows):
    return pd.DataFrame(rows, columns=["invoice_number", "customer_id", "currency", "due_date", "open_cents"])


def test_bucket_labels_follow_the_configured_bounds():
    assert bucket_labels([30, 60, 90]) == ["not_due", "1-30", "31-60", "61-90", "90+"]
    assert bucket_labels([15, 45]) == ["not_due", "1-15", "16-45", "45+"]


@pytest.mark.parametrize(("due", "days", "bucket"), [
    ("2026-12-01", -8, "not_due"), ("2026-11-23", 0, "not_due"), ("2026-11-22", 1, "1-30"),
    ("2026-10-24", 30, "1-30"), ("2026-10-23", 31, "31-60"), ("2026-09-24", 60, "31-60"),
    ("2026-08-25", 90, "61-90"), ("2026-08-24", 91, "90+"), ("2020-01-01", 2518, "90+"),
])
def test_each_invoice_lands_in_its_bucket_and_due_today_is_not_due(due, days, bucket):
    aged = age_invoices(_invoices([("I1", "C1", "USD", due, 100)]), date(2026, 11, 23), [30, 60, 90])
    assert aged.loc[0, "days_past_due"] == days
    assert aged.loc[0, "bucket"] == bucket


def test_today_is_the_company_calendar_day_not_utc():
    chicago = CompanyProfile(legal_name="N", time_zone="America/Chicago")
    # 03:30 UTC on the 24th is still the evening of the 23rd in Chicago: an invoice due on the 23rd is not due.
    today = chicago.today(datetime(2026, 11, 24, 3, 30, tzinfo=UTC))
    assert today == date(2026, 11, 23)
    aged = age_invoices(_invoices([("I1", "C1", "USD", "2026-11-23", 100)]), today, chicago.aging_buckets)
    assert aged.loc[0, "bucket"] == "not_due"
    tokyo = CompanyProfile(legal_name="N", time_zone="Asia/Tokyo")
    assert tokyo.today(datetime(2026, 11, 23, 15, 30, tzinfo=UTC)) == date(2026, 11, 24)


def test_summary_keeps_currencies_apart_and_sums_to_open_ar_to_the_cent():
    rows = [("I1", "C1", "USD", "2026-11-30", 1_000_01), ("I2", "C1", "USD", "2026-11-01", 250_50),
            ("I3", "C2", "USD", "2026-11-01", 99), ("I4", "C2", "EUR", "2026-07-01", 12_345_67),
            ("I5", "C3", "EUR", "2026-11-23", 1)]
    summary = aging_summary(age_invoices(_invoices(rows), date(2026, 11, 23), [30, 60, 90]), [30, 60, 90])
    table = summary.rows.set_index(["currency", "bucket"])
    assert table.loc[("USD", "not_due"), "open_cents"] == 1_000_01
    assert table.loc[("USD", "1-30"), ["invoices", "customers", "open_cents"]].tolist() == [2, 2, 251_49]
    assert table.loc[("EUR", "90+"), "open_cents"] == 12_345_67
    assert table.loc[("EUR", "not_due"), "open_cents"] == 1
    assert table.loc[("USD", "61-90"), "invoices"] == 0  # every bucket is shown, empty ones as zero
    assert summary.open_ar == {"EUR": 12_345_68, "USD": 1_251_50}
    assert summary.reconciles


def test_a_summary_that_does_not_add_up_says_so():
    summary = aging_summary(age_invoices(_invoices([("I1", "C1", "USD", "2026-11-01", 500)]), date(2026, 11, 23),
                                         [30, 60, 90]), [30, 60, 90])
    summary.open_ar["USD"] = 501
    assert not summary.reconciles


def test_nothing_open_ages_to_an_empty_summary():
    summary = aging_summary(age_invoices(_invoices([]), date(2026, 11, 23), [30, 60, 90]), [30, 60, 90])
    assert summary.rows.empty and summary.open_ar == {} and summary.reconciles
