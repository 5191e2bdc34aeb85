"""A dispute as the people told about it see it: customer, invoice, amount, reason, reminders so far, the AP
contact, collector and sales rep, days open, and the customer's portal view."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd
from sqlalchemy.engine import Connection

from blocks.dunning_policy import DunningPolicy
from tasks import warehouse as wh
from tasks.portal.links import pay_link


@dataclass
class DisputeCase:
    dispute_id: str
    invoice_number: str
    customer_id: str
    customer_name: str
    currency: str
    amount_cents: int  # open when the dispute was first seen
    open_cents: int
    due_date: date
    opened_at: datetime
    source: str
    reason_code: str | None
    reason_text: str | None
    collector: str | None
    sales_rep: str | None
    owner: str | None
    level: int
    status: str
    closed_at: datetime | None = None
    resolved_by: str | None = None
    note: str | None = None
    reminders: list[tuple[date, str, int]] = field(default_factory=list)  # (day, channel, step)
    ap_contact: tuple[str | None, str | None, str | None] | None = None  # (name, email, phone)
    portal_url: str | None = None

    def days_open(self, today: date) -> int:
        end = self.closed_at.date() if self.closed_at else today
        return (end - self.opened_at.date()).days

    @property
    def reason(self) -> str:
        words = [w for w in (self.reason_code, self.reason_text) if w]
        return ": ".join(words) if words else "no reason given in the ledger"


def read_cases(conn: Connection, where: str, params: dict, policy: DunningPolicy | None, today: date) -> list[DisputeCase]:
    """Disputes matching ``where`` (on invoice_disputes d), each with its reminders, AP contact and portal link."""
    rows = wh.plain(wh.query_frame(conn, f"{wh.named_query('disputes', 'cases')} WHERE {where} ORDER BY "
                                         "d.opened_at, d.invoice_number", params))
    cases = []
    for r in rows.to_dict("records"):
        reminders = wh.query_frame(conn, wh.named_query("disputes", "reminders"), {"invoice": r["invoice_number"]})
        contacts = wh.query_frame(conn, wh.named_query("disputes", "ap_contact"), {"customer": r["customer_id"]})
        contacts = wh.plain(contacts)
        cases.append(DisputeCase(
            r["dispute_id"], r["invoice_number"], r["customer_id"], r["customer_name"], r["currency"],
            int(r["amount_cents"] or r["open_cents"]), int(r["open_cents"]), wh.to_date(r["due_date"]),
            pd.Timestamp(r["opened_at"]).to_pydatetime(), r["source"], r["reason_code"], r["reason_text"],
            r["collector"], r["sales_rep"], r["owner"], int(r["level"]), r["status"],
            pd.Timestamp(r["closed_at"]).to_pydatetime() if r["closed_at"] else None, r["resolved_by"], r["note"],
            [(wh.to_date(d), c, int(s))
             for d, c, s in zip(reminders["planned_on"], reminders["channel"], reminders["step"], strict=True)],
            tuple(contacts.iloc[0][["name", "email", "phone"]]) if not contacts.empty else None,
            pay_link(policy.pay_portal, r["customer_id"], r["currency"], today)
            if policy is not None and policy.pay_portal else None))
    return cases
