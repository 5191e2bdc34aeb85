"""The warehouse schema and its bulk writes, on SQLite and PostgreSQL."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from blocks.warehouse import migrate
from tasks import warehouse as wh


def test_migrations_apply_once(warehouse):
    assert migrate(warehouse) == []  # the fixture already migrated; a second pass changes nothing
    with warehouse.connect() as conn:
        versions = [r[0] for r in conn.exec_driver_sql("SELECT version FROM schema_migrations")]
    assert versions == ["V001__ar_warehouse", "V002__contact_quality", "V003__dunning", "V004__kpi_snapshots",
                        "V005__invoice_disputes", "V006__autopay", "V007__invoice_delivery",
                        "V008__disputes_and_staff_notices", "V009__promises", "V010__final_notice_reviews",
                        "V011__kpi_snapshot_unknowns", "V012__selfservice", "V013__ivr_calls",
                        "V014__collector_calls", "V015__credit_reviews", "V016__exchange_rates"]
    tables = set(sa.inspect(warehouse).get_table_names())
    assert {"customers", "contacts", "invoices", "payments", "credit_notes", "allocations", "sync_state",
            "quarantine", "contact_profiles", "contact_check_runs", "contact_check_failures", "contact_gate",
            "exchange_rates"} <= tables


def customers(start: int, count: int) -> pd.DataFrame:
    ids = [f"C{i:07d}" for i in range(start, start + count)]
    return pd.DataFrame({"customer_id": ids, "name": ids, "collector": "Ana", "autopay": [i % 2 == 0 for i in range(count)],
                         "credit_limit_cents": pd.array([None] + [100] * (count - 1), dtype="Int64"),
                         "row_hash": range(count), "synced_at": "2026-11-23 02:00:00"})


def test_a_bulk_load_into_an_empty_table_keeps_its_indexes(warehouse):
    """Indexes are dropped for a large first load and rebuilt after it; none may go missing."""
    invoices_before = sorted(sa.inspect(warehouse).get_indexes("invoices"), key=lambda i: i["name"])
    rows = 60_000
    frame = pd.DataFrame({
        "invoice_number": [f"INV{i:07d}" for i in range(rows)], "customer_id": "C0000000",
        "issue_date": "2026-01-01", "due_date": "2026-01-31", "currency": "EUR",
        "amount_cents": 1000, "open_cents": 1000, "status": "open", "disputed": False,
        "row_hash": range(rows), "synced_at": "2026-11-23 02:00:00",
    })
    with warehouse.begin() as conn:
        wh.insert(conn, "customers", customers(0, 1))
        assert wh.insert(conn, "invoices", frame) == rows
    assert sorted(sa.inspect(warehouse).get_indexes("invoices"), key=lambda i: i["name"]) == invoices_before
    with warehouse.connect() as conn:
        assert conn.exec_driver_sql("SELECT COUNT(*), SUM(amount_cents) FROM invoices").one() == (rows, rows * 1000)


def test_upsert_overwrites_by_key_and_keeps_nulls_and_booleans(warehouse):
    with warehouse.begin() as conn:
        wh.insert(conn, "customers", customers(0, 3))
        changed = customers(1, 3).assign(name="renamed")
        wh.upsert(conn, "customers", "customer_id", changed)
    with warehouse.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT customer_id, name, autopay, credit_limit_cents FROM customers ORDER BY customer_id").all()
    assert [(r[0], r[1], bool(r[2]), r[3]) for r in rows] == [
        ("C0000000", "C0000000", True, None),
        ("C0000001", "renamed", True, None),
        ("C0000002", "renamed", False, 100),
        ("C0000003", "renamed", True, 100),
    ]


def test_existing_keys_by_lookup_and_by_scan(warehouse):
    with warehouse.begin() as conn:
        wh.insert(conn, "customers", customers(0, 30))
        few = set(wh.existing_keys(conn, "customers", "customer_id", ["C0000003", "C0000099"]))
        many = wh.existing_keys(conn, "customers", "customer_id", [f"C{i:07d}" for i in range(25_000)])
    assert few == {"C0000003"}
    assert set(many) >= {f"C{i:07d}" for i in range(30)} and "C0000099" not in set(many)
