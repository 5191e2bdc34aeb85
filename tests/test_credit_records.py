"""A review in the warehouse (SQLite and PostgreSQL): proposals recorded as made, history written only for what an
approval changes, once, and the ERP's import file listing exactly those changes."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from test_credit_decisions import PROPOSALS

from tasks.credit.decisions import CreditDecision, Override, decide
from tasks.credit.records import apply_decisions, export_csv, record_proposals, time_out, write_export

DAY = date(2026, 12, 1)
AT = datetime(2026, 12, 1, 15, 30, 12, 345, tzinfo=UTC)


def rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql))]


def proposed(engine) -> None:
    with engine.begin() as conn:
        record_proposals(conn, "run-1", DAY, "schedule", PROPOSALS)


def test_proposals_alone_change_nothing(warehouse):
    proposed(warehouse)
    proposed(warehouse)  # a rerun of the same review records nothing twice
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
        assert apply_decisions(conn, "run-1", decided, "Dana Controller", AT, "", {"C2": False, "C3": False}) == 3
    with warehouse.begin() as conn:  # the same answer again (a retried task): already decided, nothing more
        assert apply_decisions(conn, "run-1", decided, "Dana Controller", AT, "", {}) == 0
    assert rows(warehouse, "SELECT customer_id, limit_before_cents, limit_after_cents, hold_before, hold_after, "
                           "approved_by FROM credit_limit_changes ORDER BY customer_id") == [
        ("C1", 1_000_000, 1_300_000, False, False, "Dana Controller"),
        ("C2", 500_000, 500_000, False, True, "Dana Controller"),
        ("C3", 200_000, 200_000, False, True, "Dana Controller")]
    with warehouse.begin() as conn:
        path = write_export(conn, DAY, tmp_path / "credit")
    assert path.read_text().splitlines() == [
        "change_id,customer_id,currency,limit_before,limit_after,credit_hold,approved_by,approved_at,review_id,why",
        "run-1|C1,C1,USD,10000.00,13000.00,false,Dana Controller,2026-12-01 15:30:12,run-1,pays on time (+5)",
        "run-1|C2,C2,USD,5000.00,5000.00,true,Dana Controller,2026-12-01 15:30:12,run-1,3 broken promises (-25)",
        "run-1|C3,C3,EUR,2000.00,2000.00,true,Dana Controller,2026-12-01 15:30:12,run-1,"
        "sales: the customer is being acquired"]
    assert rows(warehouse, "SELECT DISTINCT exported_on FROM credit_limit_changes") in ([(DAY,)], [("2026-12-01",)])
    with warehouse.begin() as conn:
        assert export_csv(conn, date(2026, 12, 2)).splitlines()[1:] == []


def test_a_rejection_or_a_timeout_writes_no_change(warehouse):
    proposed(warehouse)
    decided, _ = decide(PROPOSALS, CreditDecision(decided_by="Dana", reject=True, comment="after the audit"))
    with warehouse.begin() as conn:
        assert apply_decisions(conn, "run-1", decided, "Dana", AT, "after the audit", {}) == 0
    assert rows(warehouse, "SELECT status, decided_by, comment FROM credit_reviews") == [
        ("rejected", "Dana", "after the audit")]
    with warehouse.begin() as conn:
        record_proposals(conn, "run-2", DAY, "schedule", PROPOSALS)
        assert time_out(conn, "run-2", AT)
        assert not time_out(conn, "run-2", AT)
    assert rows(warehouse, "SELECT status FROM credit_reviews WHERE review_id = 'run-2'") == [("timed_out",)]
    assert rows(warehouse, "SELECT COUNT(*) FROM credit_limit_changes") == [(0,)]
