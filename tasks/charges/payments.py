"""Money taken through the gateway, into the warehouse at once and out to the ERP.

A payment arpilot took (an autopay charge or a portal payment) is written to ``payments`` and ``allocations`` the
moment the gateway says it succeeded, and each invoice's open amount drops by what was applied, so tonight's aging
and tomorrow's dunning see it before the ERP does. The day's export lists every such payment for the ERP to import
under the same payment id; when the ledger sync later brings it back, it updates these rows instead of adding a
second payment.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tasks import warehouse as wh
from tasks.money import to_decimal
from tasks.output_files import write_whole

EXPORT_COLUMNS = ("payment_id", "received_on", "customer_id", "currency", "payment_amount", "method",
                  "gateway_reference", "invoice_number", "applied_amount")


@dataclass(frozen=True)
class GatewayPayment:
    """A payment the gateway confirmed: ``applied`` is (invoice number, cents) per invoice it pays."""

    intent_id: str
    source: str  # "charge" | "portal"
    customer_id: str
    currency: str
    received_on: date
    method_type: str
    last4: str | None
    applied: tuple[tuple[str, int], ...]

    @property
    def payment_id(self) -> str:
        return f"ARP-{self.intent_id}"

    @property
    def amount_cents(self) -> int:
        return sum(cents for _, cents in self.applied)


def record_payment(conn: Connection, payment: GatewayPayment) -> bool:
    """Write the payment, its allocations and the invoices' new open amounts; False (and nothing written) when this
    intent's payment is already recorded, so a webhook, a poll and a rerun may all report the same success."""
    at = wh.utcnow()
    fresh = conn.execute(sa.text(
        "INSERT INTO gateway_payments (payment_id, source, intent_id, customer_id, currency, received_on, "
        "amount_cents, method_type, last4, recorded_at) VALUES (:payment_id, :source, :intent_id, :customer_id, "
        ":currency, :received_on, :amount_cents, :method_type, :last4, :at) ON CONFLICT DO NOTHING"),
        {"payment_id": payment.payment_id, "source": payment.source, "intent_id": payment.intent_id,
         "customer_id": payment.customer_id, "currency": payment.currency, "received_on": payment.received_on,
         "amount_cents": payment.amount_cents, "method_type": payment.method_type, "last4": payment.last4, "at": at},
    ).rowcount
    if not fresh:
        return False
    conn.execute(sa.text(
        "INSERT INTO payments (payment_id, customer_id, received_on, currency, amount_cents, method, row_hash, "
        "synced_at) VALUES (:payment_id, :customer_id, :received_on, :currency, :amount_cents, :method, 0, :at) "
        "ON CONFLICT (payment_id) DO NOTHING"),
        {"payment_id": payment.payment_id, "customer_id": payment.customer_id, "received_on": payment.received_on,
         "currency": payment.currency, "amount_cents": payment.amount_cents, "method": payment.method_type, "at": at})
    for number, cents in payment.applied:
        conn.execute(sa.text(
            "INSERT INTO allocations (allocation_id, document_kind, document_id, invoice_number, amount_cents, "
            "row_hash, synced_at) VALUES (:id, 'payment', :payment_id, :number, :cents, 0, :at) "
            "ON CONFLICT (allocation_id) DO NOTHING"),
            {"id": f"{payment.payment_id}:{number}", "payment_id": payment.payment_id, "number": number,
             "cents": cents, "at": at})
        conn.execute(sa.text(
            "UPDATE invoices SET open_cents = CASE WHEN open_cents > :cents THEN open_cents - :cents ELSE 0 END, "
            "status = CASE WHEN open_cents > :cents THEN status ELSE 'paid' END, "
            "settled_date = CASE WHEN open_cents > :cents THEN settled_date ELSE :day END "
            "WHERE invoice_number = :number"),
            {"cents": cents, "day": payment.received_on, "number": number})
    return True


def export_rows(conn: Connection, where: str, params: dict | None = None) -> list[dict]:
    """Payments as the ERP imports them, one row per invoice a payment applies to (format in README)."""
    rows = wh.query_frame(conn, f"SELECT * FROM ({wh.named_query('charges', 'payment_export')}) AS e WHERE {where} "
                                "ORDER BY e.payment_id, e.invoice_number", params)
    return [dict(zip(EXPORT_COLUMNS, (r.payment_id, str(r.received_on)[:10], r.customer_id, r.currency,
                                      to_decimal(r.payment_cents), r.method_type, r.intent_id, r.invoice_number,
                                      to_decimal(r.applied_cents)), strict=True))
            for r in rows.itertuples(index=False)]


def export_csv(conn: Connection, day: date) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(export_rows(conn, "e.received_on = :day", {"day": day}))
    return out.getvalue()


EXPORT_DAYS_BACK = 7  # each run rewrites the exports of the week before too: portal payments arrive all day


def write_exports(conn: Connection, day: date, folder: Path) -> Path:
    """Rewrite ``day``'s export, and those of the days before it that have payments (a portal payment made after
    that day's charge run is added to its day's file); returns ``day``'s."""
    since = day - timedelta(days=EXPORT_DAYS_BACK)
    days = conn.execute(sa.text("SELECT DISTINCT received_on FROM gateway_payments WHERE received_on >= :since "
                                "AND received_on < :day"), {"since": since, "day": day}).scalars()
    for earlier in sorted({date.fromisoformat(str(d)[:10]) for d in days}):
        write_export(conn, earlier, folder)
    return write_export(conn, day, folder)


def write_export(conn: Connection, day: date, folder: Path) -> Path:
    """Rewrite the day's export file whole from the warehouse (atomically), so a rerun never lists a payment twice."""
    return write_whole(folder / f"payments-{day.isoformat()}.csv", export_csv(conn, day))


def write_back(conn: Connection, ledger_conn: Connection, statement: str) -> int:
    """Run the policy's write-back statement on the ledger database for every payment not written back yet, then
    mark them; the statement does nothing for a row it already has, so a stop between the two is harmless."""
    rows = export_rows(conn, "e.written_back_at IS NULL")
    if not rows:
        return 0
    ledger_conn.execute(sa.text(statement), rows)
    ledger_conn.commit()
    conn.execute(sa.text("UPDATE gateway_payments SET written_back_at = :now WHERE payment_id = :p"),
                 [{"now": wh.utcnow(), "p": p} for p in sorted({r["payment_id"] for r in rows})])
    return len({r["payment_id"] for r in rows})
