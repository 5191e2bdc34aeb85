"""The day's portal payments, for the controller: a `portal-payments` table artifact on the run that calls it."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from prefect.artifacts import create_table_artifact
from sqlalchemy.engine import Engine

from reports.formats import money
from tasks import warehouse as wh


def portal_payments(engine: Engine, day: date) -> list[dict]:
    """One row per payment customers made in the portal on ``day`` (recorded in the warehouse at once)."""
    with engine.connect() as conn:
        rows = conn.execute(sa.text(wh.named_query("portal", "payments_on")), {"day": day}).all()
    return [{"Payment": r.payment_id, "Customer": f"{r.name or '?'} ({r.customer_id})", "Currency": r.currency,
             "Amount": money(r.amount_cents, r.currency), "Method": f"{r.method_type} {r.last4 or ''}".strip(),
             "Gateway reference": r.intent_id} for r in rows]


def publish_portal_payments(engine: Engine, day: date) -> list[dict]:
    """Publish the day's portal payments with totals per currency (call it inside a flow or task run)."""
    rows = portal_payments(engine, day)
    totals: dict[str, int] = {}
    with engine.connect() as conn:
        for r in conn.execute(sa.text("SELECT currency, SUM(amount_cents) AS cents FROM gateway_payments WHERE "
                                      "source = 'portal' AND received_on = :day GROUP BY currency"), {"day": day}):
            totals[r.currency] = int(r.cents)
    said = ", ".join(money(cents, currency) for currency, cents in sorted(totals.items())) or "none"
    create_table_artifact(rows, key="portal-payments",
                          description=f"Payments customers made in the pay portal on {day}: {len(rows)} ({said}). "
                                      "Already in the warehouse; the ERP export lists them too.")
    return rows
