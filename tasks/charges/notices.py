"""What a customer hears when autopay could not take the money, as one pure function, and the collector's task.

Each declined charge, or charge waiting for the customer to authenticate, gets one email to the customer's AP
contacts (the same gate, opt-outs and local send window as reminders; outbox key '<charge key>|autopay'):
- a soft decline: the charge did not go through, it is tried again on the retry day, or update the method;
- a decline for good: autopay could not pay, please pay through the link or update the payment method;
- authentication needed: please confirm the payment through the link.
A decline for good and an authentication request also put the customer on the collector's call list
('<charge key>|call'), since ordinary dunning takes over. A stopped or internal customer gets no email.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd
from babel.dates import format_date

from blocks.company import CompanyProfile
from blocks.dunning_policy import DunningPolicy
from reports.formats import money
from tasks.aging import bucket_of, days_past_due
from tasks.dunning.messages import RenderedMessage, message_context, render_email
from tasks.dunning.plan import (
    DEFERRED,
    INTERNAL,
    SKIP_COLUMNS,
    STOPPED,
    CoveredInvoice,
    PlannedMessage,
    Recipient,
    contact_recipients,
    contacts_by_customer,
    in_window,
)

AUTOPAY = "autopay"  # the outbox channel of an autopay notice (an email about a charge)
NOTICE_DAYS = 14  # declines older than this are not announced any more (a first run after an upgrade)
DONE = ("reserved", "sending", "sent", "unknown", "failed")


@dataclass
class AutopayNotice(PlannedMessage):
    """One charge's notice (channel autopay) or the collector's call task (channel call)."""

    charge_key: str = ""
    kind: str = ""  # retry | declined | authenticate
    reason: str = ""  # the gateway's words
    retry_on: date | None = None
    charge_day: date = date.min
    method: str = ""  # "card ending 4242"

    @property
    def key(self) -> str:
        return f"{self.charge_key}|{self.channel}"


def notice_kind(status: str, failure_kind: str | None, retry_on) -> str:
    if status == "requires_action":
        return "authenticate"
    return "retry" if failure_kind == "soft" and retry_on is not None else "declined"


def plan_notices(charges: pd.DataFrame, contacts: pd.DataFrame, policy: DunningPolicy, company: CompanyProfile,
                 now: datetime) -> tuple[list[AutopayNotice], pd.DataFrame]:
    """Today's autopay notices and call tasks, and the notices held back with their reason (as dunning skips).

    charges: sql/dunning/autopay_notices.sql, one row per invoice a charge covered.
    """
    today = company.today(now)
    notices, skips = [], []
    if charges.empty:
        return notices, pd.DataFrame(skips, columns=SKIP_COLUMNS)
    by_customer = contacts_by_customer(contacts)
    for key, rows in charges.groupby("charge_key", sort=True):
        first = rows.iloc[0]
        charge_day = pd.Timestamp(first.charge_day).date()
        retry_on = pd.Timestamp(first.retry_on).date() if pd.notna(first.retry_on) else None
        kind = notice_kind(first.status, first.failure_kind, retry_on)
        invoices = [CoveredInvoice(r.invoice_number, pd.Timestamp(r.due_date).date(), int(r.covered_cents),
                                   int(days_past_due(pd.Series([r.due_date]), today)[0]), 0)
                    for r in rows.itertuples(index=False)]
        worst = max(i.days_past_due for i in invoices)
        bucket = str(bucket_of(pd.Series([worst]).to_numpy(), company.aging_buckets)[0])
        method = f"{first.method_type.replace('_', ' ')}" + (f" ending {first.last4}" if pd.notna(first.last4) else "")

        def notice(channel: str, recipients) -> AutopayNotice:
            return AutopayNotice(first.customer_id, str(first.customer_name), first.collector, first.currency, 0,
                                 channel, "firm" if channel == "call" else AUTOPAY, bucket, today, invoices,
                                 recipients, charge_key=key, kind=kind, reason=first.failure_reason or "",
                                 retry_on=retry_on, charge_day=charge_day, method=method)

        customer = by_customer.get(first.customer_id, [])
        if kind != "retry" and pd.isna(first.call_status):
            recipients, _, _ = contact_recipients("call", customer, policy, first)
            notices.append(notice("call", recipients))
        if pd.notna(first.notice_status) and first.notice_status in DONE:
            continue
        recipients, reason, detail = email_recipients(first, customer, policy, company, now)
        if reason:
            skips.append((first.customer_id, first.currency, 0, AUTOPAY, bucket, reason, detail,
                          int(first.amount_cents), worst))
            continue
        notices.append(notice(AUTOPAY, recipients))
    return notices, pd.DataFrame(skips, columns=SKIP_COLUMNS)


def email_recipients(customer, contacts: list[dict], policy: DunningPolicy, company: CompanyProfile,
                     now: datetime) -> tuple[list[Recipient], str | None, str]:
    """Who gets a notice email about this customer (a row with customer_id, dunning_stopped, internal), or why
    nobody does now: stopped, internal, the contact gate, opt-outs, or outside the contact's local hours."""
    recipients, reason, detail = contact_recipients("email", contacts, policy, customer)
    override = policy.overrides.get(customer.customer_id)
    if bool(customer.dunning_stopped) or (override and override.stop):
        return recipients, STOPPED, "no automated email to this customer"
    if bool(customer.internal):
        return recipients, INTERNAL, ""
    if reason is None:
        ok, local = in_window(now, recipients[0].time_zone, company, policy, "email")
        reason, detail = (None, "") if ok else (DEFERRED, f"local time {local}")
    return recipients, reason, detail


def notice_since(today: date) -> date:
    return today - timedelta(days=NOTICE_DAYS)


def render_notice(notice: AutopayNotice, company: CompanyProfile, policy: DunningPolicy,
                  sender_address: str | None = None) -> RenderedMessage:
    """A reminder's merge fields (company, contact, pay link, collector...) and the charge's own."""
    locale = company.locale
    context = message_context(notice, company, policy, sender_address) | {"autopay": {
        "kind": notice.kind, "reason": notice.reason.rstrip(". "), "method": notice.method,
        "amount": money(notice.amount_cents, notice.currency, locale),
        "charge_day": format_date(notice.charge_day, "long", locale=locale),
        "retry_on": format_date(notice.retry_on, "long", locale=locale) if notice.retry_on else ""}}
    return render_email(AUTOPAY, context, policy)
