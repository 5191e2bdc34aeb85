"""A review in the warehouse (SQLite and PostgreSQL): proposals recorded as made, history written only for what an
approval changes, once, and the ERP's import file listing exactly those changes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import sqlalchemy as sa
from test_credit_decisions import PROPOSALS

from tasks.credit.decisions import CreditDecision, Override, decide
from tasks.credit.records import (
    apply_decisions,
    end_review,
    export_csv,
    mark_imported,
    record_proposals,
    write_export,
)

DAY = date(2026, 12, 1)
AT = datetime(2026, 12, 1, 15, 30, 12, 345, tzinfo=UTC)


def rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def seed_customers(engine, holds: tuple[str, ...] = ()) -> None:
    """The proposals' customers as the ledger has them (their limits as proposed on)."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO customers (customer_id, name, currency, credit_limit_cents, sales_rep, on_hold, row_hash, "
            "synced_at) VALUES (:c, :n, :cur, :l, 'Sam Rep', :h, 0, '2026-12-01 00:00:00')"),
            [{"c": p.customer_id, "n": f"Customer {p.customer_id}", "cur": p.currency, "l": p.limit_cents,
              "h": p.customer_id in holds} for p in PROPOSALS])


def proposed(engine) -> None:
    seed_customers(engine)
    with engine.begin() as conn:
        record_proposals(conn, "run-1", DAY, "schedule", PROPOSALS)


def test_proposals_alone_change_nothing(warehouse):
    proposed(warehouse)
    with warehouse.begin() as conn:  # a rerun of the same review records nothing twice
        record_proposals(conn, "run-1", DAY, "schedule", PROPOSALS)
    assert rows(warehouse, "SELECT customer_id, recommendation, proposed_limit_cents, decision FROM credit_proposals "
                           "ORDER BY customer_id") == [("C1", "raise", 1_300_000, "pending"),
                                                       ("C2", "hold", 500_000, "pending"),
                                                       ("C3", "keep", 200_000, "pending")]
    assert rows(warehouse, "SELECT status FROM credit_reviews") == [("proposed",)]
    assert rows(warehouse, "SELECT COUNT(*) FROM credit_limit_changes") == [(0,)]


def test_an_approval_writes_history_for_what_changes_once_and_the_erp_file_lists_it(warehouse, tmp_path):
    proposed(warehouse)
    answer = CreditDecision(decided_by="Dana Controller", approve_all=True, overrides=[
        Override(customer_id="C3", hold=True, why="sales: the customer is being acquired")])
    decided, _ = decide(PROPOSALS, answer)
    with warehouse.begin() as conn:
        assert len(apply_decisions(conn, "run-1", decided, "Dana Controller", AT, "")) == 3
    with warehouse.begin() as conn:  # the same answer again (a retried task): already decided, nothing more
        assert apply_decisions(conn, "run-1", decided, "Dana Controller", AT, "") == []
    assert rows(warehouse, "SELECT customer_id, limit_before_cents, limit_after_cents, hold_before, hold_after, "
                           "approved_by FROM credit_limit_changes ORDER BY customer_id") == [
        ("C1", 1_000_000, 1_300_000, False, False, "Dana Controller"),
        ("C2", 500_000, 500_000, False, True, "Dana Controller"),
        ("C3", 200_000, 200_000, False, True, "Dana Controller")]
    with warehouse.begin() as conn:
        path = write_export(conn, "run-1", DAY, tmp_path / "credit")
    assert path.name == "credit-limits-2026-12-01-run-1.csv"
    assert path.read_text().splitlines() == [
        "change_id,customer_id,currency,limit_before,limit_after,credit_hold,approved_by,approved_at,review_id,why",
        "run-1|C1,C1,USD,10000.00,13000.00,false,Dana Controller,2026-12-01 15:30:12,run-1,pays on time (+5)",
        "run-1|C2,C2,USD,5000.00,5000.00,true,Dana Controller,2026-12-01 15:30:12,run-1,3 broken promises (-25)",
        "run-1|C3,C3,EUR,2000.00,2000.00,true,Dana Controller,2026-12-01 15:30:12,run-1,"
        "sales: the customer is being acquired"]
    assert rows(warehouse, "SELECT DISTINCT exported_on FROM credit_limit_changes") in ([(DAY,)], [("2026-12-01",)])
    with warehouse.begin() as conn:
        assert export_csv(conn, "run-2").splitlines()[1:] == []  # another review's file lists none of these


def test_a_rejection_or_a_timeout_writes_no_change(warehouse):
    proposed(warehouse)
    decided, _ = decide(PROPOSALS, CreditDecision(decided_by="Dana", reject=True, comment="after the audit"))
    with warehouse.begin() as conn:
        assert apply_decisions(conn, "run-1", decided, "Dana", AT, "after the audit") == []
    assert rows(warehouse, "SELECT status, decided_by, comment FROM credit_reviews") == [
        ("rejected", "Dana", "after the audit")]
    with warehouse.begin() as conn:
        record_proposals(conn, "run-2", DAY, "schedule", PROPOSALS)
        assert end_review(conn, "run-2", "timed_out", AT, "nobody answered")
        assert not end_review(conn, "run-2", "timed_out", AT, "nobody answered")
    assert rows(warehouse, "SELECT status FROM credit_reviews WHERE review_id = 'run-2'") == [("timed_out",)]
    assert rows(warehouse, "SELECT COUNT(*) FROM credit_limit_changes") == [(0,)]


def in_force(engine) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in rows(engine, "SELECT customer_id, credit_limit_cents, on_hold, source "
                                              "FROM customer_credit")}


def test_an_approved_change_is_in_force_until_the_erp_changes_the_customer_otherwise(warehouse):
    proposed(warehouse)
    decided, _ = decide(PROPOSALS, CreditDecision(decided_by="Dana", approve_all=True))
    with warehouse.begin() as conn:
        apply_decisions(conn, "run-1", decided, "Dana", AT, "")
    assert in_force(warehouse) == {"C1": (1_300_000, False, "arpilot"), "C2": (500_000, True, "arpilot"),
                                   "C3": (200_000, False, "ledger")}  # the ERP has not imported the file yet

    def ledger(customer: str, limit: int, hold: bool) -> None:
        with warehouse.begin() as conn:
            conn.execute(sa.text("UPDATE customers SET credit_limit_cents = :l, on_hold = :h WHERE customer_id = :c"),
                         {"l": limit, "h": hold, "c": customer})

    def nightly(day: date) -> int:
        with warehouse.begin() as conn:
            return mark_imported(conn, day)

    ledger("C2", 600_000, False)  # someone set another limit in the ERP before importing: the ERP's word is in force
    assert in_force(warehouse)["C2"] == (600_000, False, "ledger")
    assert nightly(DAY) == 0  # nothing imported yet
    ledger("C1", 1_300_000, False)  # the ERP imported the raise: both agree, and the nightly notes it
    assert nightly(DAY) == 1 and in_force(warehouse)["C1"] == (1_300_000, False, "ledger")
    ledger("C1", 1_000_000, False)  # then set the old limit back in the ERP: the ERP's word, not the old approval
    assert in_force(warehouse)["C1"] == (1_000_000, False, "ledger")


def test_a_later_review_before_the_erp_imported_the_first_builds_on_the_approval(warehouse):
    proposed(warehouse)
    with warehouse.begin() as conn:
        apply_decisions(conn, "run-1", decide(PROPOSALS, CreditDecision(decided_by="Dana", approve_all=True))[0],
                        "Dana", AT, "")
        record_proposals(conn, "run-3", DAY, "schedule", PROPOSALS[:1])
        [change] = apply_decisions(conn, "run-3", decide(PROPOSALS[:1], CreditDecision(
            decided_by="Dana", overrides=[Override(customer_id="C1", limit=Decimal("7500"), why="slowing")]))[0],
            "Dana", datetime(2026, 12, 2, 9, tzinfo=UTC), "")
    assert (change.limit_before_cents, change.limit_after_cents) == (1_300_000, 750_000)
    assert in_force(warehouse)["C1"] == (750_000, False, "arpilot")  # the ledger still shows 10,000.00
