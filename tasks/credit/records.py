"""A credit review in the warehouse: its proposals as made, the approver's decisions, and only for an approved or
overridden line that changes something, a row of history (limit and hold before and after, who, when, why). The
ERP learns of the changes from one import file per review, rewritten whole so a rerun never lists a change twice.

Export format (UTF-8 CSV, one row per change): change_id, customer_id, currency, limit_before, limit_after (decimal
amounts in the currency, empty: no limit), credit_hold (true/false), approved_by, approved_at (UTC), review_id, why.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tasks import warehouse as wh
from tasks.credit.decisions import Decided
from tasks.credit.scorecard import Review
from tasks.output_files import write_whole


@dataclass(frozen=True)
class Change:
    """An approved change of one customer's limit or hold, as written to the history."""

    change_id: str
    customer_id: str
    currency: str
    limit_before_cents: int | None
    limit_after_cents: int | None
    hold_before: bool
    hold_after: bool
    why: str


EXPORT_COLUMNS = ["change_id", "customer_id", "currency", "limit_before", "limit_after", "credit_hold",
                  "approved_by", "approved_at", "review_id", "why"]


def record_proposals(conn: Connection, review_id: str, reviewed_on: date, started_by: str,
                     reviews: list[Review]) -> None:
    """The review and its proposals, pending (a review that proposes nothing is over: nothing_proposed); a rerun of
    the same review keeps what was recorded first."""
    fresh = conn.execute(sa.text(
        "INSERT INTO credit_reviews (review_id, reviewed_on, started_by, status) VALUES (:r, :d, :s, :st) "
        "ON CONFLICT (review_id) DO NOTHING"),
        {"r": review_id, "d": reviewed_on, "s": started_by, "st": "proposed" if reviews else "nothing_proposed"}
    ).rowcount
    if fresh and reviews:
        conn.execute(sa.text(
            "INSERT INTO credit_proposals (review_id, customer_id, currency, score, recommendation, limit_cents, "
            "proposed_limit_cents, reasons) VALUES (:r, :c, :cur, :s, :rec, :l, :p, :why)"),
            [{"r": review_id, "c": r.customer_id, "cur": r.currency, "s": r.score, "rec": r.recommendation,
              "l": r.limit_cents, "p": r.proposed_limit_cents, "why": "; ".join(r.reasons)} for r in reviews])


def apply_decisions(conn: Connection, review_id: str, decided: list[Decided], decided_by: str, at: datetime,
                    comment: str) -> list[Change]:
    """Record each line's decision and write the history of what changes against the limit and hold in force now
    (customer_credit); returns the changes written. A review decided before is left as it is (none)."""
    status = "rejected" if all(d.decision == "rejected" for d in decided) else "approved"
    stamp = at.replace(tzinfo=None, microsecond=0)
    claimed = conn.execute(sa.text(
        "UPDATE credit_reviews SET status = :st, decided_by = :by, decided_at = :t, comment = :c "
        "WHERE review_id = :r AND status = 'proposed'"),
        {"st": status, "by": decided_by, "t": stamp, "c": comment, "r": review_id}).rowcount
    if not claimed:
        return []
    written = []
    for d in decided:
        conn.execute(sa.text(
            "UPDATE credit_proposals SET decision = :d, approved_limit_cents = :l, approved_hold = :h, why = :w "
            "WHERE review_id = :r AND customer_id = :c"),
            {"d": d.decision, "l": d.limit_cents, "h": d.hold, "w": d.why, "r": review_id, "c": d.customer_id})
        if d.decision == "rejected":
            continue
        now = conn.execute(sa.text(
            "SELECT p.currency, k.credit_limit_cents, k.on_hold, k.ledger_limit_cents, k.ledger_hold "
            "FROM credit_proposals p JOIN customer_credit k ON k.customer_id = p.customer_id "
            "WHERE p.review_id = :r AND p.customer_id = :c"), {"r": review_id, "c": d.customer_id}).one()
        change = Change(f"{review_id}|{d.customer_id}", d.customer_id, now.currency, now.credit_limit_cents,
                        now.credit_limit_cents if d.limit_cents is None else d.limit_cents, bool(now.on_hold),
                        bool(now.on_hold) if d.hold is None else d.hold, d.why)
        if (change.limit_after_cents, change.hold_after) == (change.limit_before_cents, change.hold_before):
            continue  # approved, and nothing changes: no history row, nothing for the ERP
        conn.execute(sa.text(
            "INSERT INTO credit_limit_changes (change_id, customer_id, currency, limit_before_cents, "
            "limit_after_cents, hold_before, hold_after, ledger_limit_cents, ledger_hold, review_id, approved_by, "
            "approved_at, why) VALUES (:id, :c, :cur, :lb, :la, :hb, :ha, :ll, :lh, :r, :by, :t, :w)"),
            {"id": change.change_id, "c": change.customer_id, "cur": change.currency, "lb": change.limit_before_cents,
             "la": change.limit_after_cents, "hb": change.hold_before, "ha": change.hold_after,
             "ll": now.ledger_limit_cents, "lh": bool(now.ledger_hold), "r": review_id, "by": decided_by, "t": stamp,
             "w": d.why})
        written.append(change)
    return written


def record_comment(conn: Connection, review_id: str, customer_id: str, by: str, text: str) -> str | None:
    """Add a sales rep's comment to a proposal still awaiting the decision; the refusal in words, or None."""
    if not (by.strip() and text.strip()):
        return "a comment needs the name of who made it and the comment"
    status = conn.execute(sa.text("SELECT status FROM credit_reviews WHERE review_id = :r"), {"r": review_id}).scalar()
    if status is None:
        return f"no credit review {review_id}"
    if status != "proposed":
        return f"review {review_id} is already decided ({status}): tell the approver directly"
    line = f"{by.strip()}: {' '.join(text.split())}"
    done = conn.execute(sa.text(
        "UPDATE credit_proposals SET sales_comment = CASE WHEN sales_comment IS NULL THEN :l "
        "ELSE sales_comment || :nl || :l END WHERE review_id = :r AND customer_id = :c"),
        {"l": line, "nl": "\n", "r": review_id, "c": customer_id}).rowcount
    return None if done else f"review {review_id} proposes nothing for {customer_id}"


def sales_comments(conn: Connection, review_id: str) -> list[dict]:
    """The review's proposals with a sales rep's comment, as the approver reads them."""
    return [dict(r) for r in conn.execute(sa.text(
        "SELECT customer_id, recommendation, sales_comment FROM credit_proposals WHERE review_id = :r "
        "AND sales_comment IS NOT NULL ORDER BY customer_id"), {"r": review_id}).mappings()]


def account_people(conn: Connection) -> dict[str, dict]:
    """Each customer's name, collector and sales rep, as emails about their credit name them."""
    rows = conn.execute(sa.text("SELECT customer_id, name, collector, sales_rep FROM customers")).mappings()
    return {r["customer_id"]: dict(r) for r in rows}


def mark_imported(conn: Connection, day: date) -> int:
    """Note the approved changes the ledger now shows (the ERP imported them): from then on the ledger's word is in
    force (customer_credit), also when the ERP changes the customer back. Returns how many were noted today."""
    return conn.execute(sa.text(
        "UPDATE credit_limit_changes SET imported_on = :d WHERE imported_on IS NULL AND EXISTS (SELECT 1 FROM "
        "customers c WHERE c.customer_id = credit_limit_changes.customer_id AND COALESCE(c.credit_limit_cents, -1) "
        "= COALESCE(credit_limit_changes.limit_after_cents, -1) AND c.on_hold = credit_limit_changes.hold_after)"),
        {"d": day}).rowcount


def end_review(conn: Connection, review_id: str, status: str, at: datetime, why: str) -> bool:
    """A review that ends without changes: timed_out (nobody answered) or not_decided (an answer that approved
    nothing, e.g. without a name); it takes no comment afterwards. False when it had ended already."""
    return conn.execute(sa.text(
        "UPDATE credit_reviews SET status = :st, decided_at = :t, comment = :w WHERE review_id = :r "
        "AND status = 'proposed'"),
        {"st": status, "t": at.replace(tzinfo=None, microsecond=0), "w": why, "r": review_id}).rowcount == 1


def export_csv(conn: Connection, review_id: str) -> str:
    """The review's approved changes as the ERP imports them."""
    rows = wh.plain(wh.query_frame(conn, (
        "SELECT change_id, customer_id, currency, limit_before_cents, limit_after_cents, hold_after, approved_by, "
        "approved_at, review_id, why FROM credit_limit_changes WHERE review_id = :r ORDER BY change_id"),
        {"r": review_id}))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    for r in rows.itertuples(index=False):
        writer.writerow([r.change_id, r.customer_id, r.currency, _amount(r.limit_before_cents),
                         _amount(r.limit_after_cents), "true" if r.hold_after else "false", r.approved_by,
                         str(r.approved_at)[:19], r.review_id, r.why])
    return out.getvalue()


def write_export(conn: Connection, review_id: str, day: date, folder: Path) -> Path:
    """The review's import file, one per review so a file the ERP imported is never listed again (``day``: the
    company's date of the approval), written whole and atomically; its changes are marked exported."""
    path = write_whole(folder / f"credit-limits-{day.isoformat()}-{review_id[:8]}.csv", export_csv(conn, review_id))
    conn.execute(sa.text("UPDATE credit_limit_changes SET exported_on = :day WHERE review_id = :r"),
                 {"day": day, "r": review_id})
    return path


def _amount(cents) -> str:
    return "" if cents is None else f"{Decimal(int(cents)).scaleb(-2):.2f}"
