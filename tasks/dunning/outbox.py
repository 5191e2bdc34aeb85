"""The dunning outbox: every outbound message is reserved in the warehouse before any outside call.

A row's key is (customer, currency, step, day, channel). Reserving is an INSERT that does nothing when the key
exists, so a rerun, a retry or a second run at the same moment finds the row and does not send. The row moves
reserved -> sending (being handed over: for email, just before DATA ends; for SMS and calls, the request under
way) -> sent | failed | owed. A provider that refuses an attempt for now (SMTP 4xx, HTTP 429/5xx) took
nothing: the row goes back to reserved before the back-off sleep, and after the last attempt it is ``owed``: the
next run plans the same message again and reclaims the row. A run that dies leaves reserved or sending rows owned
by a dead process; the next run reconciles them explicitly (tasks/dunning/reconcile.py), never blindly.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tasks import warehouse as wh
from tasks.claims import OWNER, checkpoint, owner_alive
from tasks.dunning.plan import PlannedMessage, SendHistory

# Statuses that count as "this customer heard from us": a message under way or of unknown outcome is assumed
# delivered, so neither the cap nor the step coverage lets a second one through.
DELIVERED_OR_MAYBE = ("reserved", "sending", "sent", "unknown")
STEP_DONE = DELIVERED_OR_MAYBE + ("failed",)  # a permanent failure is not retried tomorrow at the same step
# "owed" is in neither: the provider refused for now, so the message is planned again.
RECLAIMABLE = "owed"


def reserve(conn: Connection, messages: list[PlannedMessage], run_id: str, lease_seconds: int) -> list[PlannedMessage]:
    """Claim the messages no one has claimed, or that a provider refused for now (owed); returns those this run now owns.

    One statement per message: the insert, or for an owed row the update back to reserved, happens only when
    the row is new or still owed, so of two runs at the same moment exactly one owns each message.
    """
    now = wh.timestamp()
    lease = now + timedelta(seconds=lease_seconds)
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    columns = ("outbox_key", "customer_id", "currency", "step", "channel", "planned_on", "bucket", "amount_cents",
               "invoices", "recipients", "status", "attempts", "run_id", "owner", "lease_until", "reserved_at")
    renewed = ("bucket", "amount_cents", "invoices", "recipients", "status", "run_id", "owner", "lease_until",
               "reserved_at")
    sql = (f"INSERT INTO dunning_outbox ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))}) "
           f"ON CONFLICT (outbox_key) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in renewed)} "
           f"WHERE dunning_outbox.status = '{RECLAIMABLE}'")
    owned = []
    for m in messages:
        row = (m.key, m.customer_id, m.currency, m.step, m.channel, m.planned_on, m.bucket, m.amount_cents,
               len(m.invoices), "; ".join(r.address for r in m.recipients), "reserved", 0, run_id, OWNER, lease, now)
        if conn.exec_driver_sql(sql, row).rowcount == 1:
            owned.append(m)
    if owned:  # a reclaimed message covers today's invoices, not those it covered when it was refused
        conn.exec_driver_sql(f"DELETE FROM dunning_outbox_invoices WHERE outbox_key = {mark}",
                             [(m.key,) for m in owned])
        covered = [(m.key, i.invoice_number, i.step) for m in owned for i in m.invoices]
        if covered:  # a thank-you for a kept promise covers no open invoice
            conn.exec_driver_sql(f"INSERT INTO dunning_outbox_invoices (outbox_key, invoice_number, step) "
                                 f"VALUES ({mark}, {mark}, {mark})", covered)
    return owned


def mark_sending(conn: Connection, keys: list[str], subject: str | None, lease_seconds: int) -> None:
    """Record that these messages are being handed to the provider, and commit at once.

    Called on a connection kept open for it, as the very last step before the provider gets the message (for
    email, the final "." of DATA): the commit must return straight into that write, not into returning a
    connection to the pool, or a process dying in between would leave "sending" for a message nobody got.
    """
    lease = wh.timestamp() + timedelta(seconds=lease_seconds)
    conn.execute(sa.text("UPDATE dunning_outbox SET status = 'sending', subject = :s, lease_until = :l "
                         "WHERE outbox_key = :k"), [{"k": key, "s": subject, "l": lease} for key in keys])
    conn.commit()
    checkpoint("handing-over")


def refused(conn: Connection, keys: list[str]) -> None:
    """The provider refused this attempt, so it has nothing: back to reserved before any back-off sleep, and
    commit at once, so a run that dies while waiting leaves a message to plan again, not one of unknown fate."""
    conn.execute(sa.text("UPDATE dunning_outbox SET status = 'reserved' WHERE outbox_key = :k AND status = 'sending'"),
                 [{"k": key} for key in keys])
    conn.commit()
    checkpoint("refused")  # a kill here is a kill during the back-off wait


def complete(conn: Connection, key: str, status: str, attempts: int, provider_id: str | None = None,
             reason: str | None = None) -> None:
    """Record the outcome: sent, failed (permanent, with the provider's reason), owed (refused for now: still
    owed, with the provider's last reason) or unknown. A carrier's failure that came before (Twilio can report a
    text undelivered before the send records its sid) keeps its reason."""
    conn.execute(sa.text("UPDATE dunning_outbox SET status = :st, attempts = :a, provider_id = :p, "
                         "reason = COALESCE(:r, CASE WHEN delivery_status IN ('undelivered', 'failed') THEN reason END), "
                         "completed_at = :t WHERE outbox_key = :k"),
                 {"k": key, "st": status, "a": attempts, "p": provider_id, "r": reason, "t": wh.timestamp()})


def release(conn: Connection, keys: list[str], only_reserved: bool = False) -> None:
    """Forget reservations of messages known not to have gone out, so they are planned again.

    only_reserved: keep rows already in ``sending``: their provider call may have happened.
    """
    condition = " AND status = 'reserved'" if only_reserved else ""
    for start in range(0, len(keys), wh.IN_CHUNK):
        chunk = {f"k{i}": k for i, k in enumerate(keys[start:start + wh.IN_CHUNK])}
        names = ", ".join(f":{n}" for n in chunk)
        conn.execute(sa.text(f"DELETE FROM dunning_outbox_invoices WHERE outbox_key IN (SELECT outbox_key FROM "
                             f"dunning_outbox WHERE outbox_key IN ({names}){condition})"), chunk)
        conn.execute(sa.text(f"DELETE FROM dunning_outbox WHERE outbox_key IN ({names}){condition}"), chunk)


def orphans(conn: Connection) -> pd.DataFrame:
    """Reserved or sending rows whose owner is gone: a dead process on this host, or, for an owner on another
    host (whose process we cannot see), a lease that has run out."""
    rows = wh.query_frame(conn, "SELECT outbox_key, customer_id, channel, status, recipients, subject, reserved_at, "
                                "owner, lease_until FROM dunning_outbox WHERE status IN ('reserved', 'sending')")
    if rows.empty:
        return rows
    now = wh.timestamp()
    expired = (pd.to_datetime(rows["lease_until"], format="ISO8601").dt.tz_localize(None) < now).to_numpy(bool)
    alive = [owner_alive(o) for o in rows["owner"]]
    gone = [a is False or (a is None and e) for a, e in zip(alive, expired, strict=True)]
    return rows[gone].reset_index(drop=True)


def provider_ids(conn: Connection, channel: str, to: str) -> set[str]:
    """The provider ids the outbox already holds for messages on this channel to this address."""
    rows = conn.execute(sa.text("SELECT provider_id FROM dunning_outbox WHERE channel = :c AND recipients = :to "
                                "AND provider_id IS NOT NULL"), {"c": channel, "to": to})
    return {r[0] for r in rows}


def send_history(conn: Connection, today: date, cap_days: int) -> SendHistory:
    """Step coverage of the invoices still open, and each customer's latest message day per channel."""
    statuses = ", ".join(f"'{s}'" for s in STEP_DONE)
    reminded = wh.query_frame(conn, f"""
        SELECT oi.invoice_number, oi.step, o.channel
        FROM dunning_outbox_invoices oi
        JOIN dunning_outbox o ON o.outbox_key = oi.outbox_key
        JOIN invoices i ON i.invoice_number = oi.invoice_number
        WHERE i.status = 'open' AND o.status IN ({statuses})""")
    maybe = ", ".join(f"'{s}'" for s in DELIVERED_OR_MAYBE)
    recent = wh.query_frame(conn, f"""
        SELECT customer_id, channel, planned_on, currency FROM dunning_outbox
        WHERE planned_on >= :since AND status IN ({maybe})""", {"since": today - timedelta(days=max(cap_days, 1))})
    last: dict[tuple[str, str], tuple[date, frozenset[str]]] = {}
    if not recent.empty:
        recent["planned_on"] = pd.to_datetime(recent["planned_on"], format="ISO8601").dt.date
        latest = recent.groupby(["customer_id", "channel"])["planned_on"].transform("max")
        newest = recent[recent["planned_on"] == latest]
        for (customer, channel, day), group in newest.groupby(["customer_id", "channel", "planned_on"]):
            last[(customer, channel)] = (day, frozenset(group["currency"]))
    triples = zip(reminded["invoice_number"].tolist(), reminded["step"].astype("int64").tolist(),
                  reminded["channel"].tolist(), strict=True)
    return SendHistory(set(triples), last)
