"""Who is charged how much on a charge day: the rules as one pure function over what the warehouse holds.

One charge per customer, currency and day covers every invoice due by that day that no charge has taken yet,
through the customer's active mandate in that currency. No charge, with the reason, when:
- the customer has no mandate in the invoices' currency (a mandate never pays another currency);
- the customer has unapplied credit in that currency (payments or credit notes not yet allocated): a collector
  applies it first, so autopay never takes money the customer may already have paid;
- the total is above the mandate's maximum per charge (the collector is told);
- the invoice's last charge was declined for good, or asked the customer to authenticate, after the mandate
  was last changed (ordinary dunning takes over, the reason shown in its plan);
- a soft decline's retry is scheduled for a later day.
Invoices under a charge that is reserved, submitted, processing or succeeded are never charged again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from tasks import warehouse as wh
from tasks.money import to_decimal

IN_FLIGHT = ("reserved", "submitted", "processing", "succeeded")
NEEDS_CUSTOMER = "requires_action"


@dataclass(frozen=True)
class PlannedCharge:
    charge_key: str
    customer_id: str
    currency: str
    charge_day: date
    attempt: int
    amount_cents: int
    invoices: tuple[tuple[str, int], ...]  # (invoice number, cents taken for it)
    gateway_customer: str
    payment_method: str
    method_type: str
    last4: str | None


@dataclass(frozen=True)
class SkippedCharge:
    customer_id: str
    currency: str
    amount_cents: int
    invoices: tuple[str, ...]
    reason: str
    tell_collector: bool = False


@dataclass
class ChargePlan:
    charge_day: date
    charges: list[PlannedCharge] = field(default_factory=list)
    skipped: list[SkippedCharge] = field(default_factory=list)

    @property
    def amount_by_currency(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for c in self.charges:
            totals[c.currency] = totals.get(c.currency, 0) + c.amount_cents
        return totals


def decline_terms(code: str | None, attempt: int, charge_day: date, retry_after_days: list[int],
                  soft_declines: list[str], next_business_day) -> tuple[str, date | None]:
    """("soft", retry day) for a decline a later attempt can overcome while retries remain, else ("hard", None).
    Retry n falls ``retry_after_days[n-1]`` business days after the first attempt (``next_business_day(day, n)``
    counts business days)."""
    if code not in soft_declines or attempt > len(retry_after_days):
        return "hard", None
    gap = retry_after_days[attempt - 1] - (retry_after_days[attempt - 2] if attempt > 1 else 0)
    return "soft", next_business_day(charge_day, gap)


def charge_key(customer_id: str, currency: str, day: date) -> str:
    return f"{customer_id}|{currency}|{day.isoformat()}"


def _last_charges(history: pd.DataFrame) -> pd.DataFrame:
    """Each invoice's most recent charge (by attempt, then day)."""
    if history.empty:
        return history.set_index(pd.Index([], name="invoice_number"))
    ordered = history.sort_values(["invoice_number", "attempt", "charge_day"])
    last = ordered.groupby("invoice_number").tail(1).set_index("invoice_number")
    return wh.plain(last)


def _invoice_state(row, last, mandate_changed) -> tuple[str, int]:
    """("charge", attempt) | ("taken", 0) | ("skip", reason...) for one due invoice given its last charge."""
    if last is None:
        return "charge", 1
    if last.status in IN_FLIGHT:
        return "taken", 0
    changed_since = mandate_changed is not None and str(mandate_changed) > str(last.updated_at)
    if changed_since:  # a new payment method starts the attempts again
        return "charge", 1
    if last.status == NEEDS_CUSTOMER:
        return "final", f"the customer must confirm the charge of {last.charge_day} (asked to authenticate)"
    if last.failure_kind == "soft" and last.retry_on is not None:
        return ("charge", int(last.attempt) + 1) if str(last.retry_on) <= str(row.charge_day) else \
            ("wait", f"soft decline ({last.failure_code}) on {last.charge_day}: retry on {last.retry_on}")
    return "final", f"declined on {last.charge_day} ({last.failure_code or 'no code'}): {last.failure_reason}"


def plan_charges(due: pd.DataFrame, mandates: pd.DataFrame, history: pd.DataFrame, credit: pd.DataFrame,
                 day: date) -> ChargePlan:
    """The charges for ``day``.

    due: invoice_number, customer_id, currency, open_cents (open, undisputed, due on or before ``day``, of customers
    with any active mandate). mandates: the active ones (customer_id, currency, gateway_customer, payment_method,
    method_type, last4, max_charge_cents, updated_at). history: every charge covering those invoices
    (invoice_number, charge_day, attempt, status, failure_kind, failure_code, failure_reason, retry_on,
    updated_at). credit: customer_id, currency, unapplied_cents > 0.
    """
    plan = ChargePlan(day)
    last = _last_charges(history)
    by_mandate = {(m.customer_id, m.currency): m for m in mandates.itertuples(index=False)}
    unapplied = {(c.customer_id, c.currency): int(c.unapplied_cents) for c in credit.itertuples(index=False)}
    for (customer, currency), invoices in due.sort_values("invoice_number").groupby(["customer_id", "currency"]):
        mandate = by_mandate.get((customer, currency))
        chargeable, attempt, reasons = [], 1, {}
        for row in invoices.assign(charge_day=day).itertuples(index=False):
            state, detail = _invoice_state(row, last.loc[row.invoice_number] if row.invoice_number in last.index
                                           else None, mandate.updated_at if mandate else None)
            if state == "charge":
                chargeable.append((row.invoice_number, int(row.open_cents)))
                attempt = max(attempt, detail)
            elif state != "taken":
                reasons.setdefault(detail, []).append(row.invoice_number)
        for reason, numbers in reasons.items():
            cents = int(invoices.set_index("invoice_number").loc[numbers, "open_cents"].sum())
            plan.skipped.append(SkippedCharge(customer, currency, cents, tuple(numbers), reason))
        if not chargeable:
            continue
        amount = sum(cents for _, cents in chargeable)
        numbers = tuple(n for n, _ in chargeable)
        if mandate is None:
            held = sorted(m.currency for m in mandates.itertuples(index=False) if m.customer_id == customer)
            plan.skipped.append(SkippedCharge(customer, currency, amount, numbers,
                                              f"no autopay mandate in {currency} (mandates: {', '.join(held)})"))
        elif unapplied.get((customer, currency), 0) > 0:
            plan.skipped.append(SkippedCharge(
                customer, currency, amount, numbers, f"customer in credit: {to_decimal(unapplied[customer, currency])} "
                f"{currency} unapplied in the ledger; apply it before autopay charges", tell_collector=True))
        elif amount > int(mandate.max_charge_cents):
            plan.skipped.append(SkippedCharge(
                customer, currency, amount, numbers, f"{to_decimal(amount)} {currency} is above the mandate's maximum "
                f"of {to_decimal(int(mandate.max_charge_cents))} per charge", tell_collector=True))
        else:
            plan.charges.append(PlannedCharge(
                charge_key(customer, currency, day), customer, currency, day, attempt, amount, tuple(chargeable),
                mandate.gateway_customer, mandate.payment_method, mandate.method_type, mandate.last4))
    return plan
