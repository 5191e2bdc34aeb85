"""Invoices delivered when issued, as one pure function: which new invoices are emailed today, and why not.

An invoice is due for delivery when it is open and was issued on or after the dunning policy's
``deliver_invoices_from`` (the day delivery was switched on, so the back catalogue is never mailed) and not after
today. It goes once, as its own email with its PDF, to the same AP contacts reminders go to, through the same
contact gate, opt-outs and local send window; its outbox key names only the invoice, so no later night sends it
again. It is not sent, and is counted as unsent with the reason, when the customer is stopped or internal, the
invoice is disputed or under a promise to pay, no contact passed the email gate or all opted out, the ERP's PDF
named by the ledger cannot be read, an earlier delivery failed for good, or it is outside the contact's hours
(deferred: the next run inside the window sends it). A pause on reminders does not hold an invoice back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd

from blocks.company import CompanyProfile
from blocks.dunning_policy import DunningPolicy
from tasks.aging import bucket_of, days_past_due
from tasks.dunning.plan import (
    DEFERRED,
    DISPUTED,
    INTERNAL,
    PROMISE,
    SKIP_COLUMNS,
    STOPPED,
    CoveredInvoice,
    PlannedMessage,
    contact_recipients,
    contacts_by_customer,
    in_window,
)

INVOICE = "invoice"  # the outbox channel of a delivered invoice (an email carrying the invoice itself)
PDF_UNREADABLE = "ERP's PDF unreadable"
DELIVERY_FAILED = "delivery failed"
DELIVERED = ("reserved", "sending", "sent", "unknown")  # delivered, or under way, or counted as delivered
UNSENT_COLUMNS = ["invoice_number", "customer_id", "customer_name", "collector", "currency", "issue_date",
                  "open_cents", "step", "bucket", "reason", "detail"]


@dataclass
class InvoiceDelivery(PlannedMessage):
    """One invoice's delivery: a message of its own whose outbox key is the invoice's, whatever the day."""

    issue_date: date = date.min
    total_cents: int = 0  # the invoice total; amount_cents (its open amount) is what is still owed
    pdf_path: str | None = None  # the ERP's own PDF, else arpilot renders one
    city: str | None = None  # the customer's, as the ledger has them: the invoice's bill-to
    country: str | None = None  # ISO 3166 code

    @property
    def key(self) -> str:
        return delivery_key(self.invoice.invoice_number)

    @property
    def invoice(self) -> CoveredInvoice:
        return self.invoices[0]


def delivery_key(invoice_number: str) -> str:
    return f"{invoice_number}|{INVOICE}"


@dataclass
class DeliveryPlan:
    planned_on: date
    since: date | None  # deliver_invoices_from; None: delivery is off
    messages: list[InvoiceDelivery] = field(default_factory=list)
    unsent: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=UNSENT_COLUMNS))
    delivered_before: int = 0  # invoices issued since ``since`` that an earlier run delivered

    @property
    def skips(self) -> pd.DataFrame:
        """The unsent invoices as the reminders' skips (channel ``invoice``): one frame, one dunning_skips table."""
        return self.unsent.assign(channel=INVOICE, amount_cents=self.unsent["open_cents"],
                                  days_past_due=self.unsent["step"])[SKIP_COLUMNS]


def plan_deliveries(invoices: pd.DataFrame, contacts: pd.DataFrame, policy: DunningPolicy, company: CompanyProfile,
                    now: datetime) -> DeliveryPlan:
    """Today's invoice deliveries and the invoices still unsent, each with its reason.

    invoices: the open invoices issued since ``deliver_invoices_from`` (sql/dunning/invoices_to_deliver.sql) with
      their customer's name, collector, city, country, dunning_stopped and internal flags, the outcome of an
      earlier delivery (delivery_status, delivery_reason) and pdf_problem (why the ERP's PDF cannot be read, or
      None). contacts: the contact gate's roster, as for reminders.
    """
    today = company.today(now)
    plan = DeliveryPlan(today, policy.deliver_invoices_from)
    if plan.since is None or invoices.empty:
        return plan
    issued = pd.to_datetime(invoices["issue_date"], format="ISO8601").dt.date
    work = invoices[(issued >= plan.since) & (issued <= today)]
    if work.empty:
        return plan
    work = work.assign(days_past_due=days_past_due(work["due_date"], today))
    work["bucket"] = bucket_of(work["days_past_due"].to_numpy(np.int64), company.aging_buckets)
    for column in ("issue_date", "due_date", "promise_to_pay_date"):
        work[column] = pd.to_datetime(work[column], format="ISO8601").dt.date
    work["promised"] = work["promise_to_pay_date"].map(lambda d: pd.notna(d) and d >= today)
    by_customer = contacts_by_customer(contacts)
    unsent: list[tuple] = []
    for row in work.sort_values(["customer_id", "invoice_number"]).itertuples(index=False):
        if row.delivery_status in DELIVERED:
            plan.delivered_before += 1
            continue
        covered = CoveredInvoice(row.invoice_number, row.due_date, int(row.open_cents),
                                 int(row.days_past_due), int(row.days_past_due))
        recipients, reason, detail = contact_recipients("email", by_customer.get(row.customer_id, []), policy, row)
        reason, detail = _held(row, policy) or (reason, detail)
        if reason is None:
            ok, local = in_window(now, recipients[0].time_zone, company, policy, "email")
            reason, detail = (None, "") if ok else (DEFERRED, f"local time {local}")
        if reason:
            unsent.append((row.invoice_number, row.customer_id, row.customer_name, row.collector, row.currency,
                           row.issue_date, int(row.open_cents), covered.step, row.bucket, reason, detail))
            continue
        plan.messages.append(InvoiceDelivery(
            row.customer_id, str(row.customer_name), row.collector, row.currency, covered.step, INVOICE, INVOICE,
            row.bucket, today, [covered], recipients, issue_date=row.issue_date,
            total_cents=int(row.amount_cents), pdf_path=row.pdf_path,
            city=row.city, country=row.country))
    plan.unsent = pd.DataFrame(unsent, columns=UNSENT_COLUMNS)
    return plan


def _held(row, policy: DunningPolicy) -> tuple[str, str] | None:
    """Why this invoice is not mailed whatever its contacts, first reason wins; None when nothing holds it."""
    override = policy.overrides.get(row.customer_id)
    if row.delivery_status == "failed":
        return DELIVERY_FAILED, f"{row.delivery_reason or ''}; not retried: send it by hand".lstrip("; ")
    if bool(row.dunning_stopped) or (override and override.stop):
        return STOPPED, "no automated email to this customer"
    if bool(row.internal):
        return INTERNAL, ""
    if bool(row.disputed):
        return DISPUTED, ""
    if row.promised:
        return PROMISE, f"until {row.promise_to_pay_date.isoformat()}"
    if pd.notna(row.pdf_problem):
        return PDF_UNREADABLE, row.pdf_problem
    return None

