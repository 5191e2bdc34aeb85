"""Dispute records: opened and closed as the ledger's flag says, and resolved by a person's decision.

A dispute's id is '<invoice>@<first seen>' (UTC), so every notice and event about it can name it. A sync opens a
record for each invoice it first sees flagged, with the ledger's reason and the amount then open, owned by the
customer's collector; it closes a record when the flag is cleared or the invoice is no longer open, with the
outcome read from the ledger: paid, credited (a credit note or a void), or rejected (the customer owes it).
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tasks import warehouse as wh

OUTCOMES = ("credited", "rejected", "paid")


def dispute_id(invoice_number: str, opened_at: str) -> str:
    return f"{invoice_number}@{opened_at}"


def ledger_outcome(invoice_status: str, last_credit_on: date | None, opened_on: date) -> str:
    """How a dispute the ledger ended came out: a credit note since it was opened (or a void) is 'credited', a
    paid invoice 'paid', and a flag cleared with the invoice still owed is 'rejected' (dunning resumes)."""
    if invoice_status in ("void", "deleted") or (last_credit_on is not None and last_credit_on >= opened_on):
        return "credited"
    return "paid" if invoice_status == "paid" else "rejected"


def record_disputes(conn: Connection, at: str) -> None:
    """Open a record for each dispute this sync first sees; close the ones that ended in the ledger."""
    seen = wh.plain(wh.query_frame(conn, wh.named_query("disputes", "open_seen")))
    wh.insert(conn, "invoice_disputes", seen.assign(
        dispute_id=[dispute_id(n, at) for n in seen["invoice_number"]], opened_at=at, source="ledger", level=0,
        status="open"))
    ended = wh.query_frame(conn, wh.named_query("disputes", "ended"))
    updates = [{"id": row.dispute_id, "at": at,
                "status": ledger_outcome(row.invoice_status, wh.to_date(row.last_credit_on), wh.to_date(row.opened_at))}
               for row in ended.itertuples()]
    if updates:
        conn.execute(sa.text("UPDATE invoice_disputes SET closed_at = :at, status = :status, resolved_by = 'ledger' "
                             "WHERE dispute_id = :id"), updates)
        conn.execute(sa.text("UPDATE collector_worklist SET done_at = :at WHERE item_key = :key"),
                     [{"at": at, "key": f"dispute|{u['id']}"} for u in updates])
    conn.execute(sa.text(wh.named_query("disputes", "close_ended")), {"at": at})


class NoOpenDispute(ValueError):
    """A person's decision names an invoice without an open dispute."""


def resolve_by_person(conn: Connection, invoice_number: str, outcome: str, by: str, note: str) -> str:
    """Record a person's decision on the invoice's open dispute; returns the dispute id. The ledger may still flag
    the invoice: the record stays resolved (the next sync does not open it again) until the ledger clears it."""
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome {outcome!r} is not one of {', '.join(OUTCOMES)}")
    if not by.strip() or not note.strip():
        raise ValueError("say who decided (by) and why (note): every decision on a dispute is recorded with both")
    row = conn.execute(sa.text("SELECT dispute_id FROM invoice_disputes WHERE invoice_number = :n AND closed_at IS NULL"),
                       {"n": invoice_number}).first()
    if row is None:
        raise NoOpenDispute(f"invoice {invoice_number} has no open dispute in the warehouse; check the number, or "
                            "wait for the nightly sync to record the ledger's dispute")
    now = wh.utcnow()
    conn.execute(sa.text("UPDATE invoice_disputes SET closed_at = :at, status = :s, resolved_by = :by, note = :note "
                         "WHERE dispute_id = :id"), {"at": now, "s": outcome, "by": by, "note": note, "id": row[0]})
    conn.execute(sa.text("UPDATE collector_worklist SET done_at = :at WHERE item_key = :key"),
                 {"at": now, "key": f"dispute|{row[0]}"})
    return row[0]
