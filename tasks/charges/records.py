"""The charges table: every charge reserved before the gateway is asked, and what became of it.

A charge row moves reserved -> submitted (the request may have reached the gateway) -> succeeded | processing |
failed | requires_action; processing later becomes succeeded or failed. Reserving is an INSERT that does nothing
when the key exists, so a rerun or a concurrent run finds the row and does not charge. A succeeded charge's
payment is written in the same transaction as its status, so a charge is never succeeded without its payment.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tasks import warehouse as wh
from tasks.charges.gateway import Outcome
from tasks.charges.payments import GatewayPayment, record_payment
from tasks.charges.plan import PlannedCharge
from tasks.claims import OWNER, checkpoint, owner_alive

UNSETTLED = ("reserved", "submitted")
STALE_OTHER_HOST_SECONDS = 3600  # a row held by a process on another host is taken over after this long


def reserve(conn: Connection, charge: PlannedCharge, run_id: str) -> bool:
    """Claim the charge for this process; False when a row with its key exists (someone else has it)."""
    now = wh.utcnow()
    claimed = conn.execute(sa.text(
        "INSERT INTO charges (charge_key, customer_id, currency, charge_day, attempt, amount_cents, gateway_customer, "
        "payment_method, method_type, status, run_id, owner, reserved_at, updated_at) VALUES (:k, :c, :cur, :d, :a, "
        ":amt, :gc, :pm, :mt, 'reserved', :run, :owner, :now, :now) ON CONFLICT DO NOTHING"),
        {"k": charge.charge_key, "c": charge.customer_id, "cur": charge.currency, "d": charge.charge_day,
         "a": charge.attempt, "amt": charge.amount_cents, "gc": charge.gateway_customer, "pm": charge.payment_method,
         "mt": charge.method_type, "run": run_id, "owner": OWNER, "now": now}).rowcount
    if claimed:
        conn.execute(sa.text("INSERT INTO charge_invoices (charge_key, invoice_number, amount_cents) "
                             "VALUES (:k, :n, :cents)"),
                     [{"k": charge.charge_key, "n": n, "cents": cents} for n, cents in charge.invoices])
    return bool(claimed)


def mark_submitted(conn: Connection, key: str) -> None:
    conn.execute(sa.text("UPDATE charges SET status = 'submitted', owner = :owner, updated_at = :now "
                         "WHERE charge_key = :k"), {"k": key, "owner": OWNER, "now": wh.utcnow()})


def settle(conn: Connection, key: str, outcome: Outcome, retry_on: date | None = None,
           failure_kind: str | None = None) -> bool:
    """Record the gateway's answer; a success writes the payment with it. False when the row was already final
    with this outcome (a poll, a webhook and a rerun may all report the same success) or is not ours."""
    row = conn.execute(sa.text("SELECT * FROM charges WHERE charge_key = :k"), {"k": key}).mappings().one_or_none()
    if row is None:  # a webhook for a charge of another warehouse
        return False
    if row["status"] == "succeeded" or (row["status"] == outcome.status and row["intent_id"] == outcome.intent_id):
        return False
    payment_id = None
    if outcome.status == "succeeded":
        invoices = conn.execute(sa.text("SELECT invoice_number, amount_cents FROM charge_invoices WHERE charge_key = :k "
                                        "ORDER BY invoice_number"), {"k": key}).all()
        payment = GatewayPayment(outcome.intent_id, "charge", row["customer_id"], row["currency"],
                                 date.fromisoformat(str(row["charge_day"])[:10]), row["method_type"], None,
                                 tuple((n, int(c)) for n, c in invoices))
        record_payment(conn, payment)
        checkpoint("payment-recorded")  # in the same transaction as the status: a kill here undoes both
        payment_id = payment.payment_id
    conn.execute(sa.text(
        "UPDATE charges SET status = :st, intent_id = COALESCE(:intent, intent_id), failure_kind = :kind, "
        "failure_code = :code, failure_reason = :reason, retry_on = :retry, payment_id = :pay, updated_at = :now "
        "WHERE charge_key = :k"),
        {"k": key, "st": outcome.status, "intent": outcome.intent_id, "kind": failure_kind,
         "code": outcome.failure_code, "reason": outcome.failure_reason, "retry": retry_on, "pay": payment_id,
         "now": wh.utcnow()})
    return True


def leave_unsettled(conn: Connection, key: str, reason: str) -> None:
    """The gateway could not be reached after the run's tries, or the request may still be on its way: the row stays
    submitted and is let go (no owner), so that the next run, even in this same process, looks the intent up before
    it asks again."""
    conn.execute(sa.text("UPDATE charges SET failure_reason = :r, owner = '', updated_at = :now "
                         "WHERE charge_key = :k"),
                 {"k": key, "r": reason, "now": wh.utcnow()})


def orphans(conn: Connection) -> pd.DataFrame:
    """Reserved or submitted charges whose process died (or, on another host, went quiet): to settle explicitly."""
    rows = wh.query_frame(conn, "SELECT * FROM charges WHERE status IN ('reserved', 'submitted')")
    if rows.empty:
        return rows
    now = pd.Timestamp(wh.utcnow())

    def abandoned(row) -> bool:
        if not row.owner:  # let go by its run
            return True
        alive = owner_alive(row.owner)
        if alive is None:
            return (now - pd.Timestamp(row.updated_at)).total_seconds() > STALE_OTHER_HOST_SECONDS
        return not alive

    return rows[[abandoned(r) for r in rows.itertuples(index=False)]]


def asked_within(row, seconds: float) -> bool:
    """Was the row touched (asked, or its answer given up on) less than ``seconds`` ago? Its request may then still
    be on its way to the gateway."""
    return (pd.Timestamp(wh.utcnow()) - pd.Timestamp(row.updated_at)).total_seconds() < seconds


def adopt(conn: Connection, key: str, dead_owner: str, run_id: str) -> bool:
    """Take over an abandoned row for this run, only while ``dead_owner`` still holds it unsettled (of two runs
    recovering at once, one wins)."""
    return bool(conn.execute(sa.text(
        "UPDATE charges SET owner = :owner, run_id = :run, updated_at = :now "
        "WHERE charge_key = :k AND owner = :dead AND status IN ('reserved', 'submitted')"),
        {"k": key, "owner": OWNER, "dead": dead_owner, "run": run_id, "now": wh.utcnow()}).rowcount)


def as_planned(row) -> PlannedCharge:
    """An orphaned row as the charge it was meant to be (its invoices from charge_invoices)."""
    return PlannedCharge(row.charge_key, row.customer_id, row.currency, date.fromisoformat(str(row.charge_day)[:10]),
                         int(row.attempt), int(row.amount_cents), (), row.gateway_customer, row.payment_method,
                         row.method_type, None)


def processing(conn: Connection) -> pd.DataFrame:
    return wh.query_frame(conn, "SELECT * FROM charges WHERE status = 'processing'")
