"""Ledger row validation: exact money, dates in the source's format, and a reason for every refused row."""

from __future__ import annotations

import json
from decimal import Decimal

import pandas as pd
import pytest

from tasks.ledger.entities import ALLOCATIONS, CUSTOMERS, INVOICES
from tasks.ledger.validation import ParseOptions, human_date_format, strptime_format, validate

KNOWN = {"customers": {"C1", "C2"}, "invoices": {"INV-1"}, "payments": {"P1"}, "credit_notes": set()}


def known(entity, keys):
    return KNOWN[entity] & set(keys)


def invoices(*rows, options=ParseOptions()):
    base = {"invoice_number": "INV-9", "customer_id": "C1", "issue_date": "2026-01-01",
            "due_date": "2026-01-31", "currency": "USD", "amount": "100.00"}
    frame = pd.DataFrame([base | r for r in rows], dtype=object)
    frame["row_ref"] = [f"line {i + 2}" for i in range(len(frame))]
    return validate(INVOICES, frame, options, known)


def reasons(result):
    return result.quarantined["reason"].tolist()


@pytest.mark.parametrize(
    "written, cents",
    [("100", 10000), ("100.5", 10050), ("100.05", 10005), ("0.1", 10), (1234.5, 123450), (Decimal("19.99"), 1999),
     (7, 700), ("1 234.50", 123450), ("12.3400", 1234), (0.1 + 0.2 - 0.2, 10)],
)
def test_amounts_become_exact_integer_cents(written, cents):
    result = invoices({"amount": written, "open": written})
    if written == 0.1 + 0.2 - 0.2:  # a float with representation noise is refused, never rounded silently
        assert "is not an amount" in reasons(result)[0]
        return
    assert reasons(result) == []
    assert result.clean["amount"].tolist() == [cents]


def test_decimal_comma_and_thousands_separator():
    opts = ParseOptions(decimal=",", thousands=".")
    result = invoices({"amount": "1.234,56"}, {"amount": "55,94", "invoice_number": "INV-8"}, options=opts)
    assert result.clean["amount"].tolist() == [123456, 5594]


@pytest.mark.parametrize("written, cents", [("1.234.567,89", 123456789), ("1 234,5", 123450), ("1234,56", 123456),
                                            ("999", 99900), ("-0", 0)])
def test_a_thousands_separator_between_groups_of_three_digits_is_read(written, cents):
    result = invoices({"amount": written, "open": None}, options=ParseOptions(decimal=",", thousands="."))
    assert reasons(result) == [] and result.clean["amount"].tolist() == [cents]


@pytest.mark.parametrize("written", ["50.39", "1.23", "12.3456", "1.2345,00", "1.234.5", "12 34", "1.234,5.6"])
def test_a_thousands_separator_anywhere_else_quarantines_the_row(written):
    result = invoices({"amount": written}, options=ParseOptions(decimal=",", thousands="."))
    assert result.clean.empty
    assert reasons(result) == [f"amount '{written}' has a thousands separator that is not between groups of three "
                               "digits (the export writes thousands '.', decimals ',')"]


def test_whole_numbers_and_native_numbers_follow_the_same_separators():
    """Text follows the export's format; numbers a spreadsheet holds as numbers are read as the numbers they are."""
    frame = pd.DataFrame([
        {"customer_id": "C1", "terms_days": "1.000", "credit_limit": 1200.5, "row_ref": "r1"},
        {"customer_id": "C2", "terms_days": 45.0, "credit_limit": "1.200,50", "row_ref": "r2"},
        {"customer_id": "C3", "terms_days": "4.5", "credit_limit": "12", "row_ref": "r3"},
    ], dtype=object)
    result = validate(CUSTOMERS, frame, ParseOptions(decimal=",", thousands="."), known)
    assert result.clean[["terms_days", "credit_limit"]].values.tolist() == [[1000, 120050], [45, 120050]]
    assert reasons(result) == ["terms_days '4.5' has a thousands separator that is not between groups of three "
                               "digits (the export writes thousands '.', decimals ',')"]


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"amount": "n/a"}, "amount 'n/a' is not an amount with at most 2 decimals"),
        ({"amount": "-5"}, "amount '-5' is negative"),
        ({"amount": "12.345"}, "amount '12.345' is not an amount with at most 2 decimals"),
        ({"issue_date": "2025-02-30"}, "issue_date '2025-02-30' is not a date in the format yyyy-mm-dd"),
        ({"due_date": "2025-12-01"}, "due_date 2025-12-01 is before issue_date 2026-01-01"),
        ({"settled_date": "2025-12-31"}, "settled_date 2025-12-31 is before issue_date 2026-01-01"),
        ({"issue_date": "2026-01-01x"}, "issue_date '2026-01-01x' is not a date in the format yyyy-mm-dd"),
        ({"amount": "1 00"}, "amount '1 00' has a thousands separator that is not between groups of three digits"),
        ({"currency": "XXX"}, "unknown currency 'XXX'"),
        ({"currency": "EURO"}, "unknown currency 'EURO'"),
        ({"customer_id": "C404"}, "customer_id 'C404' names no known customer"),
        ({"due_date": None}, "due_date is missing"),
        ({"invoice_number": "  "}, "invoice_number is missing"),
        ({"disputed": "maybe"}, "disputed 'maybe' is not a yes/no value"),
        ({"open": "150"}, "open amount is larger than the invoice amount"),
        ({"status": "cancelled"}, "status 'cancelled' is not one of open/paid/void"),
        ({"customer_id": "C\ufffd1"}, "customer_id has bytes that are not valid in the file's encoding"),
    ],
)
def test_each_bad_row_is_quarantined_with_its_reason(change, reason):
    bad_row = {"invoice_number": "INV-BAD"} | change
    result = invoices({}, bad_row)
    assert result.clean["invoice_number"].tolist() == ["INV-9"]
    assert len(result.quarantined) == 1
    assert reason in reasons(result)[0]
    assert result.quarantined["row_ref"].tolist() == ["line 3"]
    raw = json.loads(result.quarantined["raw_row"].iloc[0])
    assert {k: raw[k] for k in bad_row} == bad_row  # the row as the source wrote it, to fix it there


def test_every_reason_of_a_row_is_kept():
    result = invoices({"amount": "x", "currency": "ZZZ", "issue_date": "soon"})
    assert reasons(result)[0].count("; ") == 2


def test_duplicate_invoice_numbers_are_all_quarantined():
    result = invoices({"invoice_number": "A"}, {"invoice_number": "A"}, {"invoice_number": "B"})
    assert result.clean["invoice_number"].tolist() == ["B"]
    assert reasons(result) == ["duplicate invoice_number 'A' appears 2 times in this extract"] * 2


def test_rows_in_equals_clean_plus_quarantined():
    rows = [{"invoice_number": f"I{i}", "amount": "bad" if i % 7 == 0 else "10"} for i in range(50)]
    result = invoices(*rows)
    assert result.rows_in == 50 == len(result.clean) + len(result.quarantined)


def test_dates_in_the_exports_format_and_native_dates():
    opts = ParseOptions(date_format=strptime_format("dd/mm/yyyy"))
    result = invoices({"issue_date": "02/01/2026", "due_date": pd.Timestamp("2026-02-01")}, options=opts)
    assert result.clean[["issue_date", "due_date"]].values.tolist() == [["2026-01-02", "2026-02-01"]]
    bad = invoices({"issue_date": "2026-01-02", "invoice_number": "X"}, {"issue_date": "31/02/2026"}, options=opts)
    assert "issue_date '31/02/2026' is not a date in the format dd/mm/yyyy" in reasons(bad)[0]


def test_date_format_words():
    assert strptime_format("dd/mm/yyyy") == "%d/%m/%Y"
    assert strptime_format("mm-dd-yy") == "%m-%d-%y"
    assert strptime_format("%Y%m%d") == "%Y%m%d"
    assert human_date_format("%d.%m.%Y") == "dd.mm.yyyy"


def test_settled_date_means_paid_in_full_and_blank_currency_takes_the_default():
    opts = ParseOptions(default_currency="EUR")
    result = invoices({"settled_date": "2026-01-20", "currency": None}, {"invoice_number": "I2"}, options=opts)
    settled, open_ = result.clean.to_dict("records")
    assert (settled["open"], settled["status"], settled["currency"]) == (0, "paid", "EUR")
    assert (open_["open"], open_["status"], open_["currency"]) == (10000, "open", "USD")


def test_void_invoice_has_nothing_open():
    result = invoices({"status": "VOID", "open": "100"})
    assert result.clean[["status", "open"]].values.tolist() == [["void", 0]]


def test_yes_no_values_as_the_export_writes_them():
    opts = ParseOptions(true_values=("Yes",), false_values=("No", ""))
    result = invoices({"disputed": "Yes"}, {"disputed": "no", "invoice_number": "I2"}, {"invoice_number": "I3"},
                      options=opts)
    assert result.clean["disputed"].tolist() == [True, False, False]


def test_allocations_must_name_a_known_invoice_and_document():
    frame = pd.DataFrame(
        [
            {"allocation_id": "1", "document_kind": "payment", "document_id": "P1", "invoice_number": "INV-1", "amount": "5"},
            {"allocation_id": "2", "document_kind": "payment", "document_id": "P1", "invoice_number": "GHOST", "amount": "5"},
            {"allocation_id": "3", "document_kind": "payment", "document_id": "P404", "invoice_number": "INV-1", "amount": "5"},
            {"allocation_id": "4", "document_kind": "refund", "document_id": "P1", "invoice_number": "INV-1", "amount": "5"},
        ],
        dtype=object,
    ).assign(row_ref=lambda f: f["allocation_id"])
    result = validate(ALLOCATIONS, frame, ParseOptions(), known)
    assert result.clean["allocation_id"].tolist() == ["1"]
    assert reasons(result) == [
        "invoice_number 'GHOST' names no known invoice",
        "document_id 'P404' names no known payment",
        "document_kind 'refund' is not payment or credit_note",
    ]


def test_customer_flags_from_a_database_are_booleans():
    frame = pd.DataFrame([{"customer_id": "C9", "name": "Müller GmbH", "autopay": 1, "on_hold": 0,
                           "terms_days": 30, "credit_limit": 25000.0, "row_ref": "r1"}], dtype=object)
    result = validate(CUSTOMERS, frame, ParseOptions(), known)
    row = result.clean.iloc[0]
    assert (row["autopay"], row["on_hold"], row["terms_days"], row["credit_limit"]) == (True, False, 30, 2500000)
    assert row["name"] == "Müller GmbH"


def test_a_row_naming_no_currency_with_an_unknown_default_is_quarantined_with_a_reason():
    result = invoices({"currency": None}, {"invoice_number": "I2", "currency": "btc"},
                      options=ParseOptions(default_currency="BTC"))
    assert reasons(result) == ["currency is missing and the default currency 'BTC' is not an ISO 4217 currency",
                               "unknown currency 'btc'"]
