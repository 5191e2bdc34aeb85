"""Nightly sync from a SQL ledger (the sample ERP) into the warehouse, on SQLite and PostgreSQL."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime

import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from blocks.ledger import LedgerUnreachable, SqlLedgerSource
from sandbox.sample_erp import generate, touch_invoices
from tasks.ledger.entities import ENTITIES, INVOICES
from tasks.ledger.sync import InvoiceDeletionRefused, sync_entity

AS_OF = date(2026, 11, 23)


@pytest.fixture
def erp(tmp_path):
    path = tmp_path / "erp.sqlite"
    summary = generate(path, invoices=2_000, seed=3, as_of=AS_OF)
    return path, summary


def sync(source, engine, run_id="run-1"):
    return {e.name: sync_entity(source, engine, e, run_id) for e in ENTITIES}


def erp_sql(path, sql, *params):
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


def test_full_sync_loads_every_good_row_and_quarantines_every_bad_one(erp, warehouse):
    path, summary = erp
    results = sync(SqlLedgerSource(url=f"sqlite:///{path}"), warehouse)

    for entity, result in results.items():
        assert result.reconciles, entity
        table = {"credit_notes": "credit_note", "exchange_rates": "exchange_rates"}.get(entity, entity.rstrip("s"))
        assert result.read == summary.rows[table]
    bad_invoices = sum(n for kind, n in summary.bad_rows.items() if kind != "orphan_allocation")
    assert results["invoices"].quarantined == bad_invoices
    assert results["customers"].quarantined == results["contacts"].quarantined == 0
    assert results["exchange_rates"].quarantined == 0 and results["exchange_rates"].inserted > 0
    # Allocations to the refused invoices cannot load either; each says why.
    assert results["allocations"].quarantined >= summary.bad_rows["orphan_allocation"]
    assert set(results["allocations"].quarantine_reasons) == {"invoice_number … names no known invoice"}


def test_open_ar_in_the_warehouse_matches_the_ledger_to_the_cent_per_currency(erp, warehouse):
    path, _ = erp
    results = sync(SqlLedgerSource(url=f"sqlite:///{path}"), warehouse)
    refused = {row["row_ref"].split("=", 1)[1] for row in results["invoices"].quarantine_sample}
    ledger: dict[str, int] = {}
    for number, currency, balance in erp_sql(path, "SELECT doc_no, currency, balance FROM invoice WHERE status = 'open'"):
        if number not in refused:
            ledger[currency] = ledger.get(currency, 0) + round(float(balance) * 100)
    with warehouse.connect() as conn:
        stored = dict(conn.execute(sa.text(
            "SELECT currency, SUM(open_cents) FROM invoices WHERE status = 'open' GROUP BY currency")).all())
    assert {k: int(v) for k, v in stored.items()} == ledger
    assert len(ledger) >= 5  # several currencies, never summed together


def test_a_second_run_with_no_ledger_change_writes_nothing(erp, warehouse):
    path, _ = erp
    source = SqlLedgerSource(url=f"sqlite:///{path}")
    sync(source, warehouse)
    with warehouse.connect() as conn:
        before = conn.execute(sa.text("SELECT MAX(synced_at) FROM invoices")).scalar()
    again = sync(source, warehouse, "run-2")
    assert all(r.inserted == r.updated == r.deleted == 0 for r in again.values())
    # Nothing new is refused; rows still waiting for a missing invoice are re-checked and reported again.
    with warehouse.connect() as conn:
        awaiting = conn.execute(sa.text("SELECT COUNT(*) FROM quarantine WHERE run_id = 'run-1' AND awaits_reference")).scalar()
    assert awaiting > 0
    assert again["allocations"].quarantined == awaiting
    assert all(r.quarantined == 0 for name, r in again.items() if name != "allocations")
    assert all(r.read <= 5 + r.quarantined for r in again.values())  # plus rows stamped at the watermark
    with warehouse.connect() as conn:
        assert conn.execute(sa.text("SELECT MAX(synced_at) FROM invoices")).scalar() == before


def invoice_rows(engine):
    with engine.connect() as conn:
        return {r[0]: tuple(r) for r in conn.execute(sa.text(
            "SELECT invoice_number, open_cents, status, disputed, promise_to_pay_date, row_hash FROM invoices"))}


def test_after_one_percent_of_invoices_change_only_those_are_touched(erp, warehouse):
    path, _ = erp
    source = SqlLedgerSource(url=f"sqlite:///{path}")
    sync(source, warehouse)
    before = invoice_rows(warehouse)
    changed = touch_invoices(path, fraction=0.01, seed=5, now=datetime(2026, 11, 23, 9, 0))
    touched_in_ledger = {r[0] for r in erp_sql(path, "SELECT doc_no FROM invoice WHERE updated_at = '2026-11-23 09:00:00'")}
    new_payments = erp_sql(path, "SELECT COUNT(*) FROM payment WHERE updated_at = '2026-11-23 09:00:00'")[0][0]

    results = sync(source, warehouse, "run-2")
    assert changed == 20
    assert results["invoices"].updated == changed and results["invoices"].inserted == 0
    assert results["payments"].inserted == new_payments > 0
    assert results["allocations"].inserted == new_payments
    assert results["customers"].updated == results["contacts"].updated == 0
    after = invoice_rows(warehouse)
    assert {n for n in after if after[n] != before[n]} == touched_in_ledger


def test_deleted_invoices_are_kept_as_deleted_and_a_fixed_row_loads_next_run(erp, warehouse):
    path, _ = erp
    source = SqlLedgerSource(url=f"sqlite:///{path}")
    first = sync(source, warehouse)
    bad_number = first["invoices"].quarantine_sample[0]["row_ref"].split("=", 1)[1]
    victim = erp_sql(path, "SELECT doc_no FROM invoice WHERE status = 'open' AND doc_no NOT IN "
                           "(SELECT invoice_doc_no FROM allocation) ORDER BY doc_no LIMIT 1")[0][0]
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM invoice WHERE doc_no = ?", (victim,))
        conn.execute("UPDATE invoice SET doc_date = '2026-01-01', due_date = '2026-01-31', total = 10, balance = 10, "
                     "currency = 'USD', status = 'open', updated_at = '2026-11-23 10:00:00' WHERE doc_no = ?", (bad_number,))

    second = sync(source, warehouse, "run-2")["invoices"]
    assert second.deleted == 1
    assert second.inserted == 1 and second.quarantined == 0
    with warehouse.connect() as conn:
        rows = dict(conn.execute(sa.text("SELECT invoice_number, status FROM invoices WHERE invoice_number IN (:a, :b)"),
                                 {"a": victim, "b": bad_number}).all())
    assert rows == {victim: "deleted", bad_number: "open"}


def test_an_unreachable_ledger_names_the_source_and_never_the_password(warehouse):
    source = SqlLedgerSource(source_name="erp-prod", url="postgresql+psycopg://ar_reader@127.0.0.1:9/erp",
                             password=SecretStr("s3cret-Pa55"))
    with pytest.raises(LedgerUnreachable) as err:
        sync_entity(source, warehouse, ENTITIES[0], "run-1")
    message = str(err.value)
    assert "erp-prod" in message and "ar_reader:***@127.0.0.1:9/erp" in message
    assert "s3cret" not in message and "s3cret" not in repr(err.value.__cause__)


def test_a_row_refused_for_a_reference_not_yet_synced_loads_when_the_reference_arrives(erp, warehouse):
    """A payment allocated to an invoice the ERP stamped after our invoice pass must not be lost."""
    path, _ = erp
    source = SqlLedgerSource(url=f"sqlite:///{path}")
    sync(source, warehouse)
    customer, currency = erp_sql(path, "SELECT cust_no, currency FROM customer LIMIT 1")[0]
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO payment VALUES ('PAY-LATE', ?, '2026-11-23', ?, 50, 'wire', '2026-11-23 10:00:00')",
                     (customer, currency))
        conn.execute("INSERT INTO allocation (doc_kind, doc_ref, invoice_doc_no, amount, updated_at) "
                     "VALUES ('payment', 'PAY-LATE', 'INV-LATE', 50, '2026-11-23 10:00:00')")
    sync(source, warehouse, "run-2")
    waiting = "SELECT run_id FROM quarantine WHERE awaits_reference AND raw_row LIKE '%INV-LATE%' ORDER BY run_id"
    with warehouse.connect() as conn:
        assert conn.execute(sa.text(waiting)).scalars().all() == ["run-2"]

    # The invoice arrives with a later stamp; the allocation itself does not change in the ledger.
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO invoice VALUES ('INV-LATE', ?, '2026-11-01', '2026-12-01', ?, 50, 0, 'paid', 0, NULL, NULL, NULL, "
                     "'2026-11-23 11:00:00')", (customer, currency))
    third = sync(source, warehouse, "run-3")
    assert third["invoices"].inserted == 1
    assert third["allocations"].inserted == 1
    with warehouse.connect() as conn:
        assert conn.execute(sa.text("SELECT amount_cents FROM allocations WHERE invoice_number = 'INV-LATE'")).scalar() == 5000
        assert conn.execute(sa.text(waiting)).scalars().all() == ["run-2"]  # not refused again
    assert sync(source, warehouse, "run-4")["allocations"].inserted == 0


def test_a_sql_ledger_that_suddenly_lists_far_fewer_open_invoices_deletes_nothing_until_confirmed(erp, warehouse):
    """invoice_numbers.sql missing rows (a wrong filter, a half-restored database) looks like mass deletion."""
    path, _ = erp
    source = SqlLedgerSource(source_name="erp-prod", url=f"sqlite:///{path}")
    sync(source, warehouse)
    with warehouse.connect() as conn:
        open_before = conn.execute(sa.text("SELECT COUNT(*) FROM invoices WHERE status = 'open'")).scalar()
    gone = erp_sql(path, "SELECT doc_no FROM invoice WHERE status = 'open' AND doc_no NOT IN "
                         "(SELECT invoice_doc_no FROM allocation) ORDER BY doc_no LIMIT 40")
    with sqlite3.connect(path) as conn:
        conn.executemany("DELETE FROM invoice WHERE doc_no = ?", gone)

    with pytest.raises(InvoiceDeletionRefused) as err:
        sync(source, warehouse, "run-2")
    message = str(err.value)
    assert message.startswith(f"Ledger sync stopped: erp-prod (sqlite:///{path}) would mark 40 invoice(s) deleted (")
    assert f"40 of the warehouse's {open_before} open invoices ({40 / open_before:.1%})" in message
    assert "confirm_deleted_invoices=40" in message
    with warehouse.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM invoices WHERE status = 'deleted'")).scalar() == 0

    confirmed = sync_entity(source, warehouse, INVOICES, "run-2", confirm_deleted_invoices=40)
    assert confirmed.deleted == 40
    with warehouse.connect() as conn:
        deleted = conn.execute(sa.text("SELECT invoice_number FROM invoices WHERE status = 'deleted'")).scalars()
        assert sorted(deleted) == sorted(n for (n,) in gone)


def test_a_row_naming_no_currency_is_quarantined_when_the_default_is_unknown(erp, warehouse):
    path, _ = erp
    (number,) = erp_sql(path, "SELECT doc_no FROM invoice WHERE status = 'open' LIMIT 1")[0]
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE invoice SET currency = NULL WHERE doc_no = ?", (number,))
    source = SqlLedgerSource(url=f"sqlite:///{path}")
    for entity in ENTITIES[:2]:
        sync_entity(source, warehouse, entity, "run-1")
    result = sync_entity(source, warehouse, ENTITIES[2], "run-1", default_currency="BTC")
    assert result.reconciles
    refused = {row["row_ref"]: row["reason"] for row in result.quarantine_sample}
    assert "currency is missing and the default currency 'BTC' is not an ISO 4217 currency" in refused[
        f"invoices invoice_number={number}"]
