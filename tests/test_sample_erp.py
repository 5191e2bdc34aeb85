"""The sample ERP: deterministic, balanced where clean, and exactly as sloppy as its summary says."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from datetime import date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from sandbox.sample_erp import (
    generate,
    main,
    touch_invoices,
)
from sandbox.sample_erp.world import BAD_CONTACT_KINDS, BAD_ROW_KINDS, COUNTRIES, CURRENCIES, CUSTOMER_FLAG_RATES

pytestmark = pytest.mark.xdist_group("test_sample_erp")  # one worker builds the module's fixtures once

AS_OF = date(2026, 11, 23)
TABLES = ("customer", "contact", "invoice", "payment", "credit_note", "allocation", "exchange_rates")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def read(path) -> dict[str, pd.DataFrame]:
    with closing(sqlite3.connect(path)) as conn:
        return {table: pd.read_sql(f"SELECT * FROM {table} ORDER BY 1", conn) for table in TABLES}


def cents(value) -> int | None:
    """Money as the sync reads it: the shortest repr, exactly; None when not a number."""
    if isinstance(value, str):
        return None
    amount = Decimal(repr(value)) * 100
    assert amount == amount.to_integral_value(), f"{value} has more than 2 decimals"
    return int(amount)


def iso_date(text) -> date | None:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def blank(value) -> bool:
    return not isinstance(value, str) or not value.strip()


@pytest.fixture(scope="module")
def erp(tmp_path_factory):
    path = tmp_path_factory.mktemp("erp") / "erp.sqlite"
    summary = generate(path, 4000, seed=3, as_of=AS_OF, bad_rows=0.006)
    return summary, read(path)


@pytest.fixture(scope="module")
def bad_invoice(erp) -> pd.DataFrame:
    """Which recogniser flags each invoice: how the sync's validation is expected to find the bad rows."""
    _, db = erp
    invoice = db["invoice"]
    total = invoice["total"].map(cents)
    doc, due = invoice["doc_date"].map(iso_date), invoice["due_date"].map(iso_date)
    return pd.DataFrame({
        "due_before_doc": [d is not None and u is not None and u < d for d, u in zip(doc, due)],
        "impossible_date": doc.isna() | due.isna(),
        "negative_total": [t is not None and t < 0 for t in total],
        "non_numeric_total": total.isna(),
        "unknown_currency": ~invoice["currency"].isin(CURRENCIES),
    })


def test_same_seed_gives_the_same_books_and_another_seed_other_books(tmp_path):
    books = {name: read(generate(tmp_path / f"{name}.sqlite", 600, seed=seed, as_of=AS_OF).path)
             for name, seed in (("first", 5), ("again", 5), ("other", 6))}
    for table in TABLES:
        pd.testing.assert_frame_equal(books["first"][table], books["again"][table])
    assert not books["first"]["invoice"].equals(books["other"]["invoice"])
    assert not books["first"]["customer"].equals(books["other"]["customer"])


def test_summary_counts_the_rows_written(erp):
    summary, db = erp
    assert summary.rows == {table: len(db[table]) for table in TABLES}
    assert len(db["invoice"]) == 4000 and len(db["customer"]) == 400
    assert 1.3 < len(db["contact"]) / len(db["customer"]) < 1.7
    assert "bad ledger rows (24)" in summary.report()


def test_each_kind_of_sloppy_ledger_row_is_written_as_reported(erp, bad_invoice):
    summary, db = erp
    orphans = ~db["allocation"]["invoice_doc_no"].isin(db["invoice"]["doc_no"])
    found = bad_invoice.sum().to_dict() | {"orphan_allocation": orphans.sum()}
    assert found == summary.bad_rows
    assert list(summary.bad_rows) == list(BAD_ROW_KINDS) and all(n == 4 for n in found.values())
    assert (bad_invoice.sum(axis=1) <= 1).all(), "each sloppy invoice has one thing wrong"
    assert set(db["invoice"]["currency"]) - set(CURRENCIES) == {"XXX", "EURO"}


def test_clean_invoices_balance_to_the_cent(erp, bad_invoice):
    _, db = erp
    invoice = db["invoice"][~bad_invoice.any(axis=1)].set_index("doc_no")
    allocation = db["allocation"].assign(cents=db["allocation"]["amount"].map(cents))
    applied = allocation.groupby("invoice_doc_no")["cents"].sum().reindex(invoice.index, fill_value=0)
    total, balance = invoice["total"].map(cents), invoice["balance"].map(cents)
    void = invoice["status"] == "void"
    assert (balance[void] == 0).all() and (applied[void] == 0).all()
    live = ~void
    assert (balance[live] == total[live] - applied[live]).all()
    assert ((balance >= 0) & (balance <= total)).all()
    assert ((invoice["status"][live] == "paid") == (balance[live] == 0)).all()
    assert (invoice["disputed"].astype(bool) | invoice["ptp_date"].notna())[balance == 0].sum() == 0
    assert (total[invoice["currency"] == "JPY"] % 100 == 0).all(), "yen are whole"


def test_clean_invoices_follow_their_customer(erp, bad_invoice):
    _, db = erp
    invoice = db["invoice"][~bad_invoice.any(axis=1)]
    merged = invoice.merge(db["customer"], on="cust_no", suffixes=("", "_customer"))
    assert len(merged) == len(invoice)
    assert (merged["currency"] == merged["currency_customer"]).all()
    doc, due = pd.to_datetime(merged["doc_date"]), pd.to_datetime(merged["due_date"])
    assert ((due - doc).dt.days == merged["terms_days"]).all()
    assert doc.min().date() >= AS_OF - timedelta(days=550) and doc.max().date() < AS_OF
    promised = pd.to_datetime(merged["ptp_date"].dropna()).dt.date
    assert len(promised) > 0 and all(AS_OF < day <= AS_OF + timedelta(weeks=3) for day in promised)


def test_payments_and_credit_notes_are_fully_allocated_in_the_invoice_currency(erp):
    _, db = erp
    allocation = db["allocation"].assign(cents=db["allocation"]["amount"].map(cents))
    invoice_currency = db["invoice"].set_index("doc_no")["currency"]
    for kind, table, key in (("payment", "payment", "pay_no"), ("credit_note", "credit_note", "cn_no")):
        document = db[table].set_index(key)
        applied = allocation[allocation["doc_kind"] == kind]
        assert (applied.groupby("doc_ref")["cents"].sum() == document["amount"].map(cents)).all()
        known = applied[applied["invoice_doc_no"].isin(invoice_currency.index)]
        clean = invoice_currency[known["invoice_doc_no"]].isin(CURRENCIES).to_numpy()
        assert (document.loc[known["doc_ref"], "currency"].to_numpy()[clean]
                == invoice_currency[known["invoice_doc_no"]].to_numpy()[clean]).all()
    assert set(db["payment"]["method"]) == {"ach", "card", "wire", "check"}
    assert abs(len(db["credit_note"]) / len(db["invoice"]) - 0.03) < 0.005


def test_settlements_follow_the_invoice_and_bump_its_updated_at(erp, bad_invoice):
    _, db = erp
    invoice = db["invoice"][~bad_invoice.any(axis=1)].set_index("doc_no")
    allocation = db["allocation"][db["allocation"]["invoice_doc_no"].isin(invoice.index)]
    settled_on = pd.concat([db["payment"].set_index("pay_no")["received_on"],
                            db["credit_note"].set_index("cn_no")["doc_date"]])
    assert (settled_on[allocation["doc_ref"]].to_numpy() >= invoice.loc[allocation["invoice_doc_no"], "doc_date"]
            .to_numpy()).all()
    assert (invoice.loc[allocation["invoice_doc_no"], "updated_at"].to_numpy() >= allocation["updated_at"]).all()


def test_every_timestamp_is_before_as_of_and_well_formed(erp):
    _, db = erp
    for table in TABLES:
        stamps = db[table]["updated_at"]
        assert stamps.str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d").all()
        assert stamps.max() < AS_OF.isoformat()


def test_customers_span_countries_currencies_and_habits(erp):
    _, db = erp
    customer = db["customer"]
    assert customer["country"].nunique() >= 8 and customer["currency"].nunique() >= 8
    assert set(customer["terms_days"]) == {15, 30, 60}
    assert 0.2 < customer["tz"].isna().mean() < 0.4
    assert customer["name"].map(lambda name: not name.isascii()).any()
    assert customer["collector"].nunique() == 8 and customer["sales_rep"].nunique() == 12
    for flag, rate in CUSTOMER_FLAG_RATES.items():
        column = "dunning_paused_until" if flag == "dunning_paused" else flag
        assert (customer[column].notna() & (customer[column] != 0)).sum() == round(rate * len(customer))


def test_each_kind_of_bad_ap_contact_is_present_as_reported(erp):
    summary, db = erp
    contact, customers = db["contact"], db["customer"]["cust_no"]
    ap = contact.drop_duplicates("cust_no").set_index("cust_no")  # each customer's first contact is its AP contact
    per_customer = contact.groupby("cust_no").size().reindex(customers, fill_value=0)
    sole = ap[per_customer[ap.index] == 1]
    owners_of_email = contact[~contact["email"].map(blank)].groupby("email")["cust_no"].nunique()
    found = {
        "no_contact": (per_customer == 0).sum(),
        "sales_only": (sole["role"] == "Sales").sum(),
        "noreply_only": ((sole["role"] == "No-reply") & sole["email"].str.match(r"no-?reply@")).sum(),
        "shared_email": ap["email"].map(owners_of_email).gt(1).sum(),
        "email_typo": ap["email"].map(lambda e: not blank(e) and (
            "gmial.com" in e or "@" not in e or ".." in e or "," in e)).sum(),
        "missing_email": ap["email"].map(blank).sum(),
        "missing_phone": (ap["phone"].map(blank) & (ap["role"] != "No-reply")).sum(),
        "stale_verification": (pd.to_datetime(ap["verified_on"]).dt.date < AS_OF - timedelta(days=365)).sum(),
        "bounced": (ap["bounced_on"].notna() & (ap["bounced_on"] > ap["verified_on"])).sum(),
    }
    assert found == summary.bad_contacts
    assert list(summary.bad_contacts) == list(BAD_CONTACT_KINDS) and all(n == 8 for n in found.values())


def test_contacts_of_good_customers_are_truly_valid(erp):
    summary, db = erp
    contact = db["contact"]
    ap_row = contact.groupby("cust_no")["contact_id"].transform("min") == contact["contact_id"]
    owners_of_email = contact[~contact["email"].map(blank)].groupby("email")["cust_no"].nunique()
    shared = contact["email"].map(owners_of_email).gt(1)
    suspicious = ap_row & (contact["email"].map(lambda e: blank(e) or not EMAIL.fullmatch(e) or ".." in e or "," in e
                                                or "gmial" in e) | contact["phone"].map(blank) | shared
                           | contact["bounced_on"].notna() | contact["role"].isin(["Sales", "No-reply"])
                           | (pd.to_datetime(contact["verified_on"]).dt.date < AS_OF - timedelta(days=365)))
    valid = contact[~suspicious].merge(db["customer"][["cust_no", "country"]], on="cust_no")
    assert len(valid) > 0.85 * len(contact)
    assert valid["email"].map(lambda e: bool(EMAIL.fullmatch(e)) and ".." not in e).all()
    assert valid["bounced_on"].isna().all()
    assert (pd.to_datetime(valid["verified_on"]).dt.date >= AS_OF - timedelta(days=365)).all()
    calling_code = {c.code: c.calling_code for c in COUNTRIES}
    for phone, country in zip(valid["phone"], valid["country"]):
        number = re.split(r" (?:x|ext\.?) \d+$", phone)[0]
        digits = re.sub(r"\D", "", number)
        assert re.fullmatch(r"\+?[\d ()./-]+", number) and 8 <= len(digits) <= 13, phone
        assert not number.startswith("+") or re.match(re.escape(calling_code[country]) + "[ -]", number), phone
        assert country not in ("US", "CA") or digits[-7:-4] != "555", f"{phone}: 555 exchanges are fictional"
    assert valid["email"].str.contains(r"\+").any(), "some plus-addressing"
    assert valid["phone"].str.contains(" x | ext", regex=True).any(), "some extensions"


def test_touch_changes_exactly_the_expected_invoices_and_only_stamps_them(tmp_path):
    path = tmp_path / "erp.sqlite"
    generate(path, 1000, seed=8, as_of=AS_OF)
    before = read(path)
    now = datetime(2026, 11, 23, 7, 30)
    assert touch_invoices(path, 0.02, now=now) == 20
    after = read(path)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")

    touched = after["invoice"]["updated_at"] == stamp
    assert touched.sum() == 20
    untouched_before = before["invoice"][~touched.to_numpy()].reset_index(drop=True)
    pd.testing.assert_frame_equal(after["invoice"][~touched].reset_index(drop=True), untouched_before)
    for table in ("customer", "contact", "credit_note"):
        pd.testing.assert_frame_equal(after[table], before[table])
    for table in ("payment", "allocation"):
        old = after[table].iloc[: len(before[table])]
        pd.testing.assert_frame_equal(old, before[table])
        assert (after[table].iloc[len(before[table]):]["updated_at"] == stamp).all()
    new_allocations = after["allocation"].iloc[len(before["allocation"]):]
    assert len(new_allocations) == len(after["payment"]) - len(before["payment"]) > 0
    changed = after["invoice"][touched].set_index("doc_no")
    applied = after["allocation"].assign(cents=after["allocation"]["amount"].map(cents)) \
        .groupby("invoice_doc_no")["cents"].sum().reindex(changed.index, fill_value=0)
    assert (changed["balance"].map(cents) == changed["total"].map(cents) - applied).all()
    assert ((changed["status"] == "paid") == (changed["balance"] == 0)).all()


def test_touch_stamps_after_the_latest_change_and_counts_at_least_one(tmp_path):
    path = tmp_path / "erp.sqlite"
    generate(path, 100, seed=9, as_of=AS_OF)
    latest = max(read(path)[table]["updated_at"].max() for table in TABLES)
    with pytest.raises(ValueError, match="later than the latest"):
        touch_invoices(path, 0.1, now=datetime.fromisoformat(latest))
    with pytest.raises(ValueError, match="between 0 and 1"):
        touch_invoices(path, 1.5)
    assert touch_invoices(path, 0) == 0
    assert touch_invoices(path, 0.0001) == 1


def test_generate_scales_down_to_ten_invoices_and_refuses_fewer(tmp_path):
    summary = generate(tmp_path / "tiny.sqlite", 10, as_of=AS_OF)
    assert summary.rows["invoice"] == 10 and summary.rows["customer"] == 1
    with pytest.raises(ValueError, match="between 10 and 1,000,000"):
        generate(tmp_path / "none.sqlite", 9)


def test_the_number_of_customers_can_be_chosen(tmp_path):
    summary = generate(tmp_path / "wide.sqlite", 100, customers=60, as_of=AS_OF)
    db = read(summary.path)
    assert summary.rows["customer"] == 60 and db["invoice"]["cust_no"].nunique() <= 60
    with pytest.raises(ValueError, match="customers must be between 1 and the number of invoices"):
        generate(tmp_path / "none.sqlite", 100, customers=101)


def test_cli_generates_and_touches(tmp_path, capsys):
    out = tmp_path / "demo" / "erp.sqlite"
    assert main(["--invoices", "200", "--seed", "7", "--out", str(out), "--as-of", "2026-11-23"]) == 0
    assert "invoice 200" in capsys.readouterr().out
    assert main(["--out", str(out), "--touch", "0.05"]) == 0
    assert "touched 10 invoices" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--invoices", "5"], "between 10 and 1,000,000"),
    (["--invoices", "2000000"], "between 10 and 1,000,000"),
    (["--invoices", "100", "--as-of", "23/11/2026"], "expected a date as YYYY-MM-DD"),
    (["--invoices", "100", "--bad-rows", "0.5"], "bad_rows is a fraction"),
    ([], "--invoices is required"),
    (["--touch", "0.1"], "no sample ERP"),
])
def test_cli_explains_bad_arguments(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main([*argv, "--out", str(tmp_path / "missing.sqlite")])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
