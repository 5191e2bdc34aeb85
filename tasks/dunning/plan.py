"""Dunning planning, as one pure function: what each customer gets today on each channel, and why not.

(ledger state, policy, contact-gate verdicts, send history, now) -> messages to send + skipped messages with a
reason. Nothing here talks to a database or a provider, so every rule is tested directly.

The rules, in the order they are applied to one customer and currency:
- Each open invoice is at the latest step whose offset it has reached (days past due >= offset).
- An invoice is held back when disputed, under an active promise to pay, or while autopay has it: a charge
  under way or settling (a bank debit takes days), a charge that succeeded before the ledger shows it, a soft
  decline's retry still to come, or, for a customer with a mandate in its currency, a charge not yet made (up
  to ``autopay_settle_days`` past due). A charge declined for good lets dunning resume. A sales rep's hold
  before the final notice keeps the whole account back until its last day; a softened final step goes out firm.
- A channel is due when some invoice at a step that uses it has not been reminded of that step on it.
- The message takes the firmest step among its invoices, at least firm for a customer on credit hold (capped by a
  customer override's tone), and lists every invoice in the dunning window that is not held back: one message per
  customer, currency and channel.
- Then, first reason wins: stopped, internal, paused, everything due held back, below minimum, no contact
  passing the gate, opted out, no mobile number, cap reached, outside the contact's local window (deferred).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from blocks.company import CompanyProfile
from blocks.dunning_policy import CONTACT_CHANNELS, TONES, DunningPolicy
from tasks.aging import bucket_of
from tasks.money import to_cents, to_decimal
from tasks.warehouse import to_date

# Skip reasons, as the controller reads them in the plan artifact and the dunning_skips table.
STOPPED = "customer stopped"
INTERNAL = "internal customer"
PAUSED = "customer paused"
DISPUTED = "disputed"
PROMISE = "promise to pay active"
AUTOPAY_SCHEDULED = "autopay charge scheduled"
AUTOPAY_PENDING = "autopay charge pending"
AUTOPAY_PAID = "autopay charge paid, not yet in the ledger"
AUTOPAY_RETRY = "autopay retry scheduled"
AUTOPAY_NOTICE = "autopay declined: the customer is told first"
SALES_HOLD = "sales rep hold"  # before the final notice (tasks/sales); until when: final_notice_reviews
NOTICE_FIRST_DAYS = 3  # a declined charge's notice goes before reminders for this long, then reminders go anyway
BELOW_MINIMUM = "below minimum balance"
GATE_FAILED = "contact failed the gate"
OPTED_OUT = "opted out"
NO_MOBILE = "no mobile number"
CAPPED = "cap reached"
DEFERRED = "deferred: outside local window"
NO_ESCALATION = "no escalation address"
HOLD_ORDER = (SALES_HOLD, DISPUTED, PROMISE, AUTOPAY_PAID, AUTOPAY_PENDING, AUTOPAY_RETRY, AUTOPAY_NOTICE,
              AUTOPAY_SCHEDULED)  # the reason shown when several hold: the account-wide one first
CHARGE_UNDER_WAY = ("reserved", "submitted", "processing")
LANDLINE_TYPES = {"fixed_line", "toll_free"}


@dataclass(frozen=True)
class Recipient:
    contact_id: str | None
    name: str | None
    address: str  # email address, E.164 phone, or an internal address / collector name
    time_zone: str | None = None


@dataclass(frozen=True)
class CoveredInvoice:
    invoice_number: str
    due_date: date
    open_cents: int
    days_past_due: int
    step: int


@dataclass
class PlannedMessage:
    customer_id: str
    customer_name: str
    collector: str | None
    currency: str
    step: int
    channel: str
    tone: str
    bucket: str
    planned_on: date
    invoices: list[CoveredInvoice]
    recipients: list[Recipient]
    credit_hold: bool = False  # firmer tone, first on the collector's call list

    @property
    def key(self) -> str:
        """The outbox key: one message per customer, currency, step, day and channel, ever."""
        return outbox_key(self.customer_id, self.currency, self.step, self.planned_on, self.channel)

    @property
    def amount_cents(self) -> int:
        return sum(i.open_cents for i in self.invoices)

    @property
    def days_past_due(self) -> int:
        return max(i.days_past_due for i in self.invoices)


def outbox_key(customer_id: str, currency: str, step: int, planned_on: date, channel: str) -> str:
    return f"{customer_id}|{currency}|{step}|{planned_on.isoformat()}|{channel}"


SKIP_COLUMNS = ["customer_id", "currency", "step", "channel", "bucket", "reason", "detail", "amount_cents",
                "days_past_due"]


@dataclass
class DunningPlan:
    planned_on: date
    messages: list[PlannedMessage] = field(default_factory=list)
    skips: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=SKIP_COLUMNS))


@dataclass
class SendHistory:
    """What earlier runs did: which invoice was reminded of which step on which channel, and when each
    customer last heard from us on each channel (messages sent, under way or of unknown outcome)."""

    reminded: set[tuple[str, int, str]] = field(default_factory=set)  # (invoice_number, step, channel)
    last_sent: dict[tuple[str, str], tuple[date, frozenset[str]]] = field(default_factory=dict)
    # (customer_id, channel) -> (latest day, currencies messaged that day)


def current_steps(days: np.ndarray, offsets: list[int]) -> np.ndarray:
    """The latest step offset each invoice has reached; NaN-free: -10**6 where it has reached none."""
    ordered = np.array(sorted(offsets))
    index = np.searchsorted(ordered, days, side="right") - 1
    return np.where(index >= 0, ordered[np.maximum(index, 0)], -10**6)


def hold_reasons(invoices: pd.DataFrame, today: date, settle_days: int) -> np.ndarray:
    """Why each invoice must not be dunned today, or "" when it may be.

    invoices carry, besides disputed and promise_to_pay_date, their last autopay charge (charge_status,
    charge_failure, charge_retry_on, charge_day, and charge_notice: how its notice to the customer went; empty
    when none), on_autopay (an active mandate in their currency) and sales_hold_until (a sales rep's hold)."""
    days = invoices["days_past_due"].to_numpy()
    disputed = invoices["disputed"].fillna(False).to_numpy(dtype=bool)
    promise = pd.to_datetime(invoices["promise_to_pay_date"], format="ISO8601").to_numpy(dtype="datetime64[D]")
    promised = ~np.isnat(promise) & (promise >= np.datetime64(today, "D"))
    status = invoices["charge_status"].astype(object).fillna("").to_numpy()
    retry = pd.to_datetime(invoices["charge_retry_on"], format="ISO8601").to_numpy(dtype="datetime64[D]")
    retrying = (status == "failed") & (invoices["charge_failure"].astype(object).fillna("").to_numpy() == "soft") & \
        ~np.isnat(retry) & (retry >= np.datetime64(today, "D"))
    charged = pd.to_datetime(invoices["charge_day"], format="ISO8601").to_numpy(dtype="datetime64[D]")
    notice = invoices["charge_notice"].astype(object).fillna("").to_numpy()
    untold = np.isin(status, ("failed", "requires_action")) & ~np.isin(notice, ("sent", "unknown")) & \
        ~np.isnat(charged) & (charged >= np.datetime64(today - timedelta(days=NOTICE_FIRST_DAYS), "D"))
    awaiting = invoices["on_autopay"].astype(object).fillna(False).to_numpy(dtype=bool) & (status == "") & (days <= settle_days)
    held = pd.to_datetime(invoices["sales_hold_until"], format="ISO8601").to_numpy(dtype="datetime64[D]")
    sales_hold = ~np.isnat(held) & (held >= np.datetime64(today, "D"))
    return np.select(
        [disputed, promised, status == "succeeded", np.isin(status, CHARGE_UNDER_WAY), retrying, untold, awaiting,
         sales_hold],
        [DISPUTED, PROMISE, AUTOPAY_PAID, AUTOPAY_PENDING, AUTOPAY_RETRY, AUTOPAY_NOTICE, AUTOPAY_SCHEDULED,
         SALES_HOLD],
        default="").astype(object)


def in_window(now: datetime, zone: str | None, company: CompanyProfile, policy: DunningPolicy,
              channel: str) -> tuple[bool, str]:
    """May this contact be reached on this channel at ``now``? And the local time, for the skip detail."""
    local = now.astimezone(ZoneInfo(zone or company.time_zone))
    shown = f"{local:%a %H:%M} {zone or company.time_zone}"
    if not policy.window_start <= local.time() < policy.window_end:
        return False, shown
    if channel == "email" and policy.email_business_days_only and not company.is_business_day(local.date()):
        return False, f"{shown}, not a business day"
    return True, shown


def plan_dunning(invoices: pd.DataFrame, customers: pd.DataFrame, contacts: pd.DataFrame, history: SendHistory,
                 policy: DunningPolicy, company: CompanyProfile, now: datetime) -> DunningPlan:
    """The day's plan.

    invoices: open invoices with invoice_number, customer_id, currency, due_date, open_cents, days_past_due,
      disputed, promise_to_pay_date and their autopay state (see hold_reasons). customers: customer_id, name,
      collector, paused_until,
      dunning_stopped, internal, credit_hold (the hold in force). contacts: the contact gate's roster with contact_id, customer_id, name, email,
      phone_e164, phone_line_type, time_zone, email_ok/sms_ok/voice_ok and opt_out_email/_sms/_voice.
    """
    today = company.today(now)
    plan = DunningPlan(today)
    steps = {s.offset: s for s in policy.steps}
    if invoices.empty or not steps:
        return plan
    offsets = list(steps)
    work = invoices.copy()
    work["step"] = current_steps(work["days_past_due"].to_numpy(np.int64), offsets)
    work = work[work["step"] > -10**6]
    cust = customers.set_index("customer_id")
    work["hold"] = hold_reasons(work, today, policy.autopay_settle_days)
    work["bucket"] = bucket_of(work["days_past_due"].to_numpy(np.int64), company.aging_buckets)
    work = work.sort_values(["customer_id", "currency", "days_past_due", "invoice_number"],
                            ascending=[True, True, False, True])
    by_customer = contacts_by_customer(contacts)
    minimum = to_cents(policy.minimum_balance)
    skips: list[tuple] = []
    messages: list[PlannedMessage] = []
    columns = ["customer_id", "currency", "invoice_number", "due_date", "open_cents", "days_past_due", "step",
               "hold", "bucket", "sales_softened_step"]
    groups: dict[tuple[str, str], list[tuple]] = defaultdict(list)
    for row in zip(*(work[c].to_numpy() for c in columns), strict=True):
        groups[(row[0], row[1])].append(row)

    for (customer_id, currency), rows in groups.items():
        info = cust.loc[customer_id]
        override = policy.overrides.get(customer_id)
        live = [r for r in rows if not r[7]]
        due_channels = _due_channels(live, steps, history)
        held_due = _due_channels([r for r in rows if r[7]], steps, history)
        top = int(max(r[6] for r in (live or rows)))
        step = steps[top]
        bucket = (live or rows)[0][8]

        skip = partial(_skip, skips, customer_id, currency, live or rows)

        blocked = _customer_block(info, override, today)
        if blocked:
            for channel in sorted(set(due_channels) | set(held_due)):
                skip(channel, *blocked)
            continue
        for channel in sorted(set(held_due) - set(due_channels)):
            held = [r for r in rows if r[7] and channel in steps[r[6]].channels]
            reason = min((r[7] for r in held), key=HOLD_ORDER.index)
            skip(channel, reason, f"{len(held)} invoice(s) held back", about=held)
        if not due_channels:
            continue
        covered = [CoveredInvoice(r[2], to_date(r[3]), int(r[4]), int(r[5]), int(r[6])) for r in live]
        total = sum(i.open_cents for i in covered)
        if total < minimum:
            for channel in due_channels:
                skip(channel, BELOW_MINIMUM, f"owes {to_decimal(total)} {currency}")
            continue
        tone = "firm" if step.tone == "final" and rows[0][9] == top else step.tone  # the rep softened it
        on_hold = bool(info["credit_hold"])
        if on_hold and TONES.index(tone) < TONES.index("firm"):
            tone = "firm"  # an account on credit hold is past friendly reminders
        if override and override.tone and TONES.index(override.tone) < TONES.index(tone):
            tone = override.tone
        for channel in due_channels:
            recipients, reason, detail = contact_recipients(channel, by_customer.get(customer_id, []), policy, info)
            if reason is None:
                reason, detail = _capped(history, customer_id, currency, channel, today, policy.cap_days)
            if reason is None and channel in CONTACT_CHANNELS:
                ok, local = in_window(now, recipients[0].time_zone, company, policy, channel)
                reason, detail = (None, "") if ok else (DEFERRED, f"local time {local}")
            if reason:
                skip(channel, reason, detail)
                continue
            messages.append(PlannedMessage(customer_id, str(info["name"]), _text(info["collector"]), currency,
                                           top, channel, tone, bucket, today, covered, recipients, on_hold))
    plan.messages = messages
    plan.skips = pd.DataFrame(skips, columns=SKIP_COLUMNS)
    return plan


def _skip(skips: list[tuple], customer_id: str, currency: str, invoices: list[tuple], channel: str, reason: str,
          detail: str = "", about: list[tuple] | None = None) -> None:
    """A skip row about these invoices (by default, the ones the message would have listed)."""
    about = about or invoices
    skips.append((customer_id, currency, int(max(r[6] for r in about)), channel, about[0][8], reason, detail,
                  sum(int(r[4]) for r in about), int(about[0][5])))


def _due_channels(rows: list[tuple], steps: dict, history: SendHistory) -> list[str]:
    """Channels on which some of these invoices has not yet been reminded of its step, in step order."""
    due: dict[str, None] = {}
    for r in rows:
        for channel in steps[r[6]].channels:
            if (r[2], int(r[6]), channel) not in history.reminded:
                due[channel] = None
    return list(due)


def _customer_block(info: pd.Series, override, today: date) -> tuple[str, str] | None:
    if bool(info["dunning_stopped"]) or (override and override.stop):
        return STOPPED, "stopped in the ledger" if bool(info["dunning_stopped"]) else "stopped in the dunning policy"
    if bool(info["internal"]):
        return INTERNAL, ""
    pauses = [d for d in (to_date(info["paused_until"]), override.pause_until if override else None) if d]
    if pauses and max(pauses) >= today:
        return PAUSED, f"until {max(pauses).isoformat()}"
    return None


def contacts_by_customer(contacts: pd.DataFrame) -> dict[str, list[dict]]:
    grouped: dict[str, list[dict]] = defaultdict(list)
    for record in contacts.sort_values("contact_id").to_dict("records"):
        grouped[record["customer_id"]].append(record)
    return grouped


def contact_recipients(channel: str, contacts: list[dict], policy: DunningPolicy,
                       info: pd.Series) -> tuple[list[Recipient], str | None, str]:
    """Who gets this channel's message, or the reason nobody can."""
    if channel == "escalation":
        if not policy.escalation_to:
            return [], NO_ESCALATION, "set escalation_to in the dunning policy"
        return [Recipient(None, None, a) for a in policy.escalation_to], None, ""
    if channel == "call":  # a person calls: the best number we have, even one automated calls may not use
        phones = [c for c in contacts if c["voice_ok"]] or [c for c in contacts if _text(c["phone_e164"])]
        best = phones[0] if phones else {"contact_id": None, "name": None, "phone_e164": "", "time_zone": None}
        return [Recipient(best["contact_id"], _text(best["name"]), _text(best["phone_e164"]) or "",
                          best["time_zone"])], None, ""
    passing = [c for c in contacts if c[f"{channel}_ok"]]
    if not passing:
        return [], GATE_FAILED, "see the contact-cleanup worklist"
    willing = [c for c in passing if not c[f"opt_out_{channel}"]]
    if not willing:
        return [], OPTED_OUT, f"{len(passing)} contact(s) opted out of {channel}"
    if channel == "sms" and policy.sms_needs_mobile:
        willing = [c for c in willing if c["phone_line_type"] not in LANDLINE_TYPES]
        if not willing:
            return [], NO_MOBILE, "the contact's number is a landline"
    if channel == "email":
        return [Recipient(c["contact_id"], _text(c["name"]), c["email"], c["time_zone"]) for c in willing], None, ""
    first = willing[0]
    return [Recipient(first["contact_id"], _text(first["name"]), first["phone_e164"], first["time_zone"])], None, ""


def _capped(history: SendHistory, customer_id: str, currency: str, channel: str, today: date,
            cap_days: int) -> tuple[str | None, str]:
    """One message per customer per channel per cap_days; the same day's messages in other currencies are one
    mailing and pass."""
    last = history.last_sent.get((customer_id, channel))
    if not last or cap_days == 0:
        return None, ""
    day, currencies = last
    if day == today and currency not in currencies:
        return None, ""
    if (today - day).days < cap_days:
        return CAPPED, f"last {channel} on {day.isoformat()}; next from {(day + timedelta(days=cap_days))}"
    return None, ""


def _text(value) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


class Batch:
    """Messages of one aging bucket, sent by one task over one connection per channel.

    Not a dataclass: Prefect (looking for futures) and Dask (for its own keys) walk into the lists, tuples and
    dataclasses a task is handed, and a batch holds thousands of messages; a plain object both hand over as it is.
    """

    __slots__ = ("bucket", "number", "messages")

    def __init__(self, bucket: str, number: int, messages: list[PlannedMessage]):
        self.bucket, self.number, self.messages = bucket, number, messages


def make_batches(messages: list[PlannedMessage], bucket_order: list[str], batch_size: int,
                 max_batches: int) -> list[Batch]:
    """Messages grouped by aging bucket, then cut into batches; batches grow so a night stays under max_batches
    task runs however many messages there are."""
    by_bucket: dict[str, list[PlannedMessage]] = defaultdict(list)
    for m in messages:
        by_bucket[m.bucket].append(m)
    size = max(batch_size, -(-len(messages) // max(max_batches - len(by_bucket), 1)))
    batches = []
    for bucket in sorted(by_bucket, key=lambda b: bucket_order.index(b) if b in bucket_order else len(bucket_order)):
        todo = by_bucket[bucket]
        for number, start in enumerate(range(0, len(todo), size), 1):
            batches.append(Batch(bucket, number, todo[start:start + size]))
    return batches


PAID_SINCE = "paid since planning"
DISPUTED_SINCE = "disputed since planning"
PROMISED_SINCE = "promise to pay since planning"


def changed_since_planning(message: PlannedMessage, current: dict[str, tuple], today: date) -> str | None:
    """Why a message must not go out after all, given its invoices as the warehouse has them now
    (invoice_number -> (status, open_cents, disputed, promise_to_pay_date)); None if it still stands."""
    for invoice in message.invoices:
        status, open_cents, disputed, promise = current.get(invoice.invoice_number, ("gone", 0, False, None))
        if status != "open" or int(open_cents) < invoice.open_cents:
            return PAID_SINCE
        if bool(disputed):
            return DISPUTED_SINCE
        promised = to_date(promise)
        if promised and promised >= today:
            return PROMISED_SINCE
    return None
