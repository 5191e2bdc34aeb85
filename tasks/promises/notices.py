"""What a customer hears about a promise to pay, and the collector's task, as one pure function.

A kept promise gets a thank-you email; a broken one a firm email that recalls the promise (amount and date) and
lists what is still open, and a call task at the top of the collector's next call list. They go out with dunning
(outbox keys 'promise|<promise id>|kept', '...|broken' and '...|call'), so the contact gate, opt-outs and the
contact's local hours apply as to any reminder. A customer who owes nothing in that currency any more gets no
firm email and no call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
from babel.dates import format_date

from blocks.company import CompanyProfile
from blocks.dunning_policy import DunningPolicy
from reports.formats import money
from tasks.aging import bucket_of, days_past_due
from tasks.charges.notices import DONE, email_recipients
from tasks.dunning.messages import RenderedMessage, message_context, render_email
from tasks.dunning.plan import (
    SKIP_COLUMNS,
    CoveredInvoice,
    DunningPlan,
    PlannedMessage,
    contact_recipients,
    contacts_by_customer,
)
from tasks.promises.rules import BROKEN

PROMISE_CHANNEL = "promise"  # the outbox channel of a promise's email to the customer
NOTHING_OPEN = "nothing open any more"


@dataclass
class PromiseNotice(PlannedMessage):
    """A promise's thank-you or firm email (channel promise), or the collector's call task (channel call)."""

    promise_id: str = ""
    kind: str = ""  # kept | broken
    promised_cents: int = 0
    paid_cents: int = 0
    promised_for: date = date.min

    @property
    def key(self) -> str:
        return f"promise|{self.promise_id}|{'call' if self.channel == 'call' else self.kind}"

    @property
    def amount_cents(self) -> int:
        """What is open (a broken promise), or what was paid (a thank-you, which lists no invoice)."""
        return sum(i.open_cents for i in self.invoices) if self.invoices else self.paid_cents

    @property
    def days_past_due(self) -> int:
        return max((i.days_past_due for i in self.invoices), default=0)

    @property
    def call_note(self) -> str:
        return f"broke a promise to pay {money(self.promised_cents, self.currency)} by {self.promised_for}"


def plan_promise_notices(promises: pd.DataFrame, contacts: pd.DataFrame, policy: DunningPolicy,
                         company: CompanyProfile, now: datetime) -> tuple[list[PromiseNotice], pd.DataFrame]:
    """Today's promise emails and call tasks, and those held back with their reason (as dunning skips).

    promises: sql/dunning/promise_notices.sql, one row per open invoice of the promise's customer and currency."""
    today = company.today(now)
    notices, skips = [], []
    by_customer = contacts_by_customer(contacts)
    for promise_id, rows in promises.groupby("promise_id", sort=True):
        first = rows.iloc[0]
        kind = first.status
        open_rows = rows[rows["invoice_number"].notna()]
        invoices = [CoveredInvoice(r.invoice_number, pd.Timestamp(r.due_date).date(), int(r.open_cents),
                                   int(days_past_due(pd.Series([r.due_date]), today)[0]), 0)
                    for r in open_rows.itertuples(index=False)] if kind == BROKEN else []
        worst = max((i.days_past_due for i in invoices), default=0)
        bucket = str(bucket_of(pd.Series([worst]).to_numpy(), company.aging_buckets)[0])

        def notice(channel: str, recipients) -> PromiseNotice:
            return PromiseNotice(first.customer_id, str(first.customer_name), first.collector, first.currency, 0,
                                 channel, "firm" if kind == BROKEN else "friendly", bucket, today, invoices,
                                 recipients, promise_id=promise_id, kind=kind, promised_cents=int(first.amount_cents),
                                 paid_cents=int(first.paid_cents or 0),
                                 promised_for=pd.Timestamp(first.promised_for).date())

        def skip(channel: str, reason: str, detail: str = "") -> None:
            skips.append((first.customer_id, first.currency, 0, channel, bucket, reason, detail,
                          sum(i.open_cents for i in invoices), worst))

        customer = by_customer.get(first.customer_id, [])
        if kind == BROKEN and not invoices:
            if pd.isna(first.notice_status):
                skip(PROMISE_CHANNEL, NOTHING_OPEN, f"promise {promise_id}")
            continue
        if kind == BROKEN and pd.isna(first.call_status):
            notices.append(notice("call", contact_recipients("call", customer, policy, first)[0]))
        if pd.notna(first.notice_status) and first.notice_status in DONE:
            continue
        recipients, reason, detail = email_recipients(first, customer, policy, company, now)
        if reason:
            skip(PROMISE_CHANNEL, reason, detail)
            continue
        notices.append(notice(PROMISE_CHANNEL, recipients))
    return notices, pd.DataFrame(skips, columns=SKIP_COLUMNS)


def with_promise_notices(notices: DunningPlan, promised: DunningPlan) -> DunningPlan:
    """Autopay and promise notices as one plan, for the dunning summary."""
    skips = [s for s in (notices.skips, promised.skips) if len(s)]
    return DunningPlan(notices.planned_on, notices.messages + promised.messages,
                       pd.concat(skips, ignore_index=True) if skips else notices.skips)


def render_promise_notice(notice: PromiseNotice, company: CompanyProfile, policy: DunningPolicy,
                          sender_address: str | None = None) -> RenderedMessage:
    """A reminder's merge fields (company, contact, pay link, collector...) and the promise's own."""
    locale = company.locale
    context = message_context(notice, company, policy, sender_address) | {"promise": {
        "kind": notice.kind, "amount": money(notice.promised_cents, notice.currency, locale),
        "paid": money(notice.paid_cents, notice.currency, locale),
        "promised_for": format_date(notice.promised_for, "long", locale=locale)}}
    return render_email(PROMISE_CHANNEL, context, policy)

