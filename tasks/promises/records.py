"""The promises table: recording a promise (from the ledger, or one a person took), renewing holds, writing each
night's verdicts, cancelling what the ledger withdrew, and claiming an outcome's announcement so it is made once.

A person's promise is checked before it is written (the customer exists and owes something in that currency,
the amount is positive, the date is not already past), so a typo in the UI form or the CLI is refused with what
is wrong instead of silently holding the wrong account's reminders.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tasks import warehouse as wh
from tasks.money import to_cents
from tasks.promises.rules import LEDGER, OPEN, SOURCES, ledger_promises


class PromiseRefused(ValueError):
    """A promise that cannot be recorded as given; the message says what and where."""


@dataclass(frozen=True)
class RecordedPromise:
    promise_id: str
    customer_id: str
    customer_name: str
    currency: str
    amount_cents: int
    promised_for: date
    hold_until: date
    invoices: int  # open invoices of that customer and currency it covers
    open_cents: int  # what is open on them


def check_promise(conn: Connection, customer_id: str, currency: str, amount: Decimal, promised_for: date,
                  source: str, taken_by: str, today: date) -> tuple[str, pd.DataFrame]:
    """The customer's name and open invoices in that currency, or PromiseRefused naming every problem."""
    problems = []
    if amount <= 0:
        problems.append(f"amount {amount} must be more than 0")
    elif amount != amount.quantize(Decimal("0.01")):
        problems.append(f"amount {amount} has more than two decimal places")
    if promised_for < today:
        problems.append(f"promised date {promised_for} is before today ({today}, the company's calendar)")
    if source not in SOURCES or source == LEDGER:
        problems.append(f"source {source!r} must be one of {', '.join(s for s in SOURCES if s != LEDGER)}")
    if not taken_by.strip():
        problems.append("taken_by (who took the promise) is empty")
    name = conn.execute(sa.text("SELECT name FROM customers WHERE customer_id = :c"), {"c": customer_id}).scalar()
    invoices = wh.query_frame(conn, "SELECT invoice_number, open_cents FROM invoices WHERE customer_id = :c AND "
                                    "currency = :cur AND status = 'open' AND open_cents > 0 ORDER BY invoice_number",
                              {"c": customer_id, "cur": currency})
    if name is None:
        problems.append(f"customer {customer_id!r} is not in the warehouse (customer ids as in the ledger)")
    elif invoices.empty:
        problems.append(f"customer {customer_id} has no open invoices in {currency}")
    if problems:
        raise PromiseRefused(f"promise for {customer_id} {currency} not recorded: " + "; ".join(problems))
    return str(name), invoices


def record_promise(conn: Connection, customer_id: str, currency: str, amount: Decimal, promised_for: date,
                   source: str, taken_by: str, note: str | None, today: date, grace_days: int) -> RecordedPromise:
    """Check and write a promise a person took, with the open invoices it covers."""
    currency = currency.strip().upper()
    name, invoices = check_promise(conn, customer_id, currency, amount, promised_for, source, taken_by, today)
    promise = RecordedPromise(f"{source}-{uuid.uuid4().hex[:16]}", customer_id, name, currency, to_cents(amount),
                              promised_for, promised_for + timedelta(days=grace_days), len(invoices),
                              int(invoices["open_cents"].astype("int64").sum()))
    wh.insert(conn, "promises", pd.DataFrame([{
        "promise_id": promise.promise_id, "customer_id": customer_id, "currency": currency,
        "amount_cents": promise.amount_cents, "promised_for": promised_for, "hold_until": promise.hold_until,
        "source": source, "taken_by": taken_by.strip(), "recorded_on": today,
        "recorded_at": datetime.fromisoformat(wh.utcnow()),
        "status": OPEN, "note": note or None}]))
    wh.insert(conn, "promise_invoices", invoices.assign(promise_id=promise.promise_id)[
        ["promise_id", "invoice_number", "open_cents"]].astype(object))
    return promise


def record_ledger_promises(conn: Connection, grace_days: int, today: date) -> int:
    """Write the promises the ledger's invoices give that are not recorded yet (recorded on ``today``, the company
    date); returns how many are new."""
    promises, covered = ledger_promises(wh.query_frame(conn, wh.named_query("promises", "ledger_promises")),
                                        grace_days)
    known = {r[0] for r in conn.execute(sa.text("SELECT promise_id FROM promises WHERE source = 'ledger'"))}
    new = promises[~promises["promise_id"].isin(known)]
    if new.empty:
        return 0
    rows = new.assign(source=LEDGER, taken_by=LEDGER, recorded_on=today,
                      recorded_at=datetime.fromisoformat(wh.utcnow()), status=OPEN)
    wh.insert(conn, "promises", rows.astype(object))
    wh.insert(conn, "promise_invoices", covered[covered["promise_id"].isin(set(new["promise_id"]))].astype(object))
    return len(new)


def renew_holds(conn: Connection, grace_days: int) -> None:
    """Open promises hold through their date plus the policy's grace as it is tonight."""
    rows = conn.execute(sa.text("SELECT promise_id, promised_for FROM promises WHERE status = 'open'")).all()
    if rows:
        conn.execute(sa.text("UPDATE promises SET hold_until = :h WHERE promise_id = :p"),
                     [{"p": p, "h": pd.Timestamp(d).date() + timedelta(days=grace_days)} for p, d in rows])


def save_verdicts(conn: Connection, verdicts: pd.DataFrame, today: date) -> dict[str, int]:
    """Write tonight's kept and broken promises; returns how many of each."""
    resolved = verdicts[verdicts["status"] != OPEN]
    if len(resolved):
        conn.execute(sa.text("UPDATE promises SET status = :s, resolved_on = :d, paid_cents = :c "
                             "WHERE promise_id = :p AND status = 'open'"),
                     [{"p": p, "s": s, "c": int(c), "d": today} for p, s, c in
                      zip(resolved["promise_id"], resolved["status"], resolved["paid_cents"], strict=True)])
    return resolved["status"].value_counts().to_dict()


def cancel_withdrawn(conn: Connection, today: date) -> int:
    """Cancel the open ledger promises the ledger no longer gives (run after the verdicts, so a promise paid and
    then struck out is kept, not cancelled); returns how many."""
    ids = [r[0] for r in conn.execute(sa.text(wh.named_query("promises", "withdrawn")))]
    if ids:
        conn.execute(sa.text("UPDATE promises SET status = 'cancelled', resolved_on = :d WHERE promise_id = :p"),
                     [{"p": p, "d": today} for p in ids])
    return len(ids)


def claim_announcement(conn: Connection, promise_id: str) -> bool:
    """Mark an outcome announced; True for the one run that does so (the others leave it alone)."""
    return conn.execute(sa.text("UPDATE promises SET announced_at = :t WHERE promise_id = :p AND announced_at IS NULL"),
                        {"p": promise_id, "t": datetime.fromisoformat(wh.utcnow())}).rowcount == 1
