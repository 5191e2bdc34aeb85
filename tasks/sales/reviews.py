"""final_notice_reviews in the warehouse: who was asked about which final notice, and what they decided.

A decision applies to the account's latest final notice (the latest final_on); a later answer overwrites an
earlier one with its own who, why and when, so the row always says who stands behind what dunning does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tasks import warehouse as wh
from tasks.aging import days_past_due
from tasks.sales.heads_up import hold_until, refusal


def open_accounts(conn: Connection, today: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Open invoices (with days past due and what holds them back) and their customers, as dunning reads them."""
    invoices = wh.plain(wh.query_frame(conn, wh.named_query("dunning", "open_invoices")))
    invoices["days_past_due"] = days_past_due(invoices["due_date"], today) if len(invoices) else []
    return invoices, wh.plain(wh.query_frame(conn, wh.named_query("dunning", "customers")))


def asked_keys(conn: Connection, today: date) -> set[tuple[str, str, int, date]]:
    rows = conn.execute(sa.text("SELECT customer_id, currency, step, final_on FROM final_notice_reviews "
                                "WHERE final_on > :today"), {"today": today})
    return {(c, cur, int(step), wh.to_date(final_on)) for c, cur, step, final_on in rows}


def record_asks(conn: Connection, asks: pd.DataFrame, asked_at: str) -> None:
    """One row per account and final notice; a concurrent run that asked first keeps its row."""
    for row in asks.itertuples():
        conn.execute(sa.text(
            "INSERT INTO final_notice_reviews (customer_id, currency, step, final_on, sales_rep, asked_at) "
            "VALUES (:c, :cur, :step, :final_on, :rep, :at) "
            "ON CONFLICT (customer_id, currency, step, final_on) DO NOTHING"),
            {"c": row.customer_id, "cur": row.currency, "step": int(row.step), "final_on": row.final_on,
             "rep": row.sales_rep, "at": asked_at})


@dataclass
class Story:
    """What the rep reads about each account awaiting an answer (frames keyed by customer_id and currency)."""

    pending: pd.DataFrame
    invoices: pd.DataFrame
    reminders: pd.DataFrame
    payments: pd.DataFrame
    disputes: pd.DataFrame


def read_story(conn: Connection, today: date) -> Story:
    frames = [wh.plain(wh.query_frame(conn, wh.named_query("sales", name), {"today": today}))
              for name in ("pending_reviews", "story_invoices", "story_reminders", "story_payments", "story_disputes")]
    return Story(*frames)


@dataclass(frozen=True)
class Decision:
    customer_id: str
    currency: str
    choice: str
    decided_by: str
    reason: str


@dataclass(frozen=True)
class Recorded:
    decision: Decision
    step: int | None = None
    final_on: date | None = None
    hold_until: date | None = None
    refused: str | None = None  # why it was not recorded


def record_decision(conn: Connection, decision: Decision, decided_at: datetime, decided_on: date,
                    hold_days: int) -> Recorded:
    """Record the rep's answer about the account's latest final notice, or say why it cannot be recorded."""
    why = refusal(decision.choice, decision.decided_by, decision.reason)
    latest = conn.execute(sa.text(
        "SELECT step, final_on FROM final_notice_reviews WHERE customer_id = :c AND currency = :cur "
        "ORDER BY final_on DESC, step DESC LIMIT 1"), {"c": decision.customer_id, "cur": decision.currency}).first()
    if why is None and latest is None:
        why = f"no final notice of {decision.customer_id} in {decision.currency} was put to sales"
    if why:
        return Recorded(decision, refused=why)
    until = hold_until(decided_on, hold_days) if decision.choice == "hold" else None
    conn.execute(sa.text(
        "UPDATE final_notice_reviews SET decision = :d, decided_by = :by, reason = :why, decided_at = :at, "
        "hold_until = :until WHERE customer_id = :c AND currency = :cur AND step = :step AND final_on = :final_on"),
        {"d": decision.choice, "by": decision.decided_by.strip(), "why": decision.reason.strip() or None,
         "at": decided_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"), "until": until,
         "c": decision.customer_id, "cur": decision.currency, "step": latest[0], "final_on": latest[1]})
    return Recorded(decision, int(latest[0]), wh.to_date(latest[1]), until)
