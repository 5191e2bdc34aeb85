"""Disputes as Prefect events, so the people who must hear of one hear within a minute, not the next night.

A dispute first seen emits ``arpilot.invoice.disputed``; one resolved emits ``arpilot.invoice.dispute-resolved``.
The invoice is the event's resource ('arpilot.invoice.<number>'); the customer, collector and sales rep are
related resources. A deployment trigger in prefect.yaml starts a dispute-escalation run for the invoice. Each
dispute is announced once (announced_at / outcome_announced_at); an event sent twice after a crash only starts
a run that finds its emails already sent.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.client.orchestration import get_client
from prefect.events import emit_event
from prefect.exceptions import ObjectNotFound
from sqlalchemy.engine import Engine

from tasks import warehouse as wh
from tasks.money import to_decimal

DISPUTED = "arpilot.invoice.disputed"
RESOLVED = "arpilot.invoice.dispute-resolved"
INVOICE_RESOURCE = "arpilot.invoice."
ESCALATION_DEPLOYMENT = "dispute-escalation/dispute-escalation"

UNANNOUNCED = """
SELECT d.dispute_id, d.invoice_number, d.status, d.reason_code, d.reason_text, d.currency, d.amount_cents,
       d.level, i.customer_id, c.name AS customer_name, c.collector, c.sales_rep
FROM invoice_disputes d
JOIN invoices i ON i.invoice_number = d.invoice_number
JOIN customers c ON c.customer_id = i.customer_id
WHERE {pending}
ORDER BY d.opened_at, d.invoice_number"""


def invoice_number(resource_or_number: str) -> str:
    """'arpilot.invoice.INV-1' (what a trigger passes) or 'INV-1' -> 'INV-1'."""
    return resource_or_number.removeprefix(INVOICE_RESOURCE)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def dispute_event(row: dict, name: str) -> dict:
    """The keyword arguments of emit_event for one dispute (``name``: DISPUTED or RESOLVED)."""
    related = [{"prefect.resource.id": f"arpilot.customer.{row['customer_id']}", "prefect.resource.role": "customer",
                "prefect.resource.name": row["customer_name"]}]
    for role, person in (("collector", row["collector"]), ("sales-rep", row["sales_rep"])):
        if person:
            related.append({"prefect.resource.id": f"arpilot.{role}.{_slug(person)}", "prefect.resource.role": role,
                            "prefect.resource.name": person})
    amount = row["amount_cents"]
    return {"event": name,
            "resource": {"prefect.resource.id": f"{INVOICE_RESOURCE}{row['invoice_number']}",
                         "prefect.resource.name": row["invoice_number"], "arpilot.dispute.id": row["dispute_id"]},
            "related": related,
            "payload": {"dispute_id": row["dispute_id"], "status": row["status"], "reason_code": row["reason_code"],
                        "reason": row["reason_text"], "currency": row["currency"],
                        "amount": None if amount is None else str(to_decimal(int(amount)))}}


@task(name="announce-disputes", cache_policy=NO_CACHE)
def announce_disputes(engine: Engine) -> dict[str, list[str]]:
    """Emit an event for each dispute not yet announced (new, or newly resolved) and mark it announced.
    Returns the invoice numbers per event name."""
    announced: dict[str, list[str]] = {DISPUTED: [], RESOLVED: []}
    for name, pending, column in ((DISPUTED, "d.announced_at IS NULL", "announced_at"),
                                  (RESOLVED, "d.status <> 'open' AND d.outcome_announced_at IS NULL",
                                   "outcome_announced_at")):
        with engine.connect() as conn:
            rows = wh.plain(wh.query_frame(conn, UNANNOUNCED.format(pending=pending))).to_dict("records")
        for row in rows:
            emit_event(**dispute_event(row, name))
            announced[name].append(row["invoice_number"])
        if rows:
            with engine.begin() as conn:
                conn.execute(sa.text(f"UPDATE invoice_disputes SET {column} = :at WHERE dispute_id = :id"),
                             [{"at": wh.utcnow(), "id": row["dispute_id"]} for row in rows])
    get_run_logger().info("Disputes announced: %d new (%s), %d resolved (%s)", len(announced[DISPUTED]), DISPUTED,
                          len(announced[RESOLVED]), RESOLVED)
    return announced


def escalation_deployed() -> bool:
    """Is there a dispute-escalation deployment (whose trigger answers the events)? Not in the demo and tests."""
    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(ESCALATION_DEPLOYMENT)
        except ObjectNotFound:
            return False
    return True
