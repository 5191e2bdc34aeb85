"""What a pay link opens: the customer's open invoices per currency, which of them may be paid, and the autopay cap.

Amounts stay integer cents; a currency is never mixed with another in one total or one payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from babel import Locale, UnknownLocaleError
from sqlalchemy.engine import Connection

from tasks import warehouse as wh


class PaymentRefused(ValueError):
    """What the customer chose cannot be paid (not theirs, not open, disputed, mixed currencies): said plainly."""


@dataclass(frozen=True)
class OpenInvoice:
    number: str
    currency: str
    issued: date
    due: date
    amount_cents: int
    open_cents: int
    disputed: bool
    autopay_under_way: bool = False  # an autopay charge is taking it (a bank debit settling, or paid)

    @property
    def why_not_payable(self) -> str | None:
        if self.disputed:
            return "disputed"
        return "autopay payment under way" if self.autopay_under_way else None

    def days_past_due(self, today: date) -> int:
        return (today - self.due).days


@dataclass(frozen=True)
class Account:
    customer_id: str
    name: str
    invoices: tuple[OpenInvoice, ...]

    @property
    def currencies(self) -> list[str]:
        return sorted({i.currency for i in self.invoices})

    def open_in(self, currency: str) -> list[OpenInvoice]:
        return [i for i in self.invoices if i.currency == currency]

    def total_cents(self, currency: str) -> int:
        return sum(i.open_cents for i in self.open_in(currency))


def read_account(conn: Connection, customer_id: str) -> Account | None:
    """The customer and their open invoices, or None for a customer the warehouse does not know (any more)."""
    customer = conn.execute(sa.text(wh.named_query("portal", "customer")), {"customer_id": customer_id}).first()
    if customer is None:
        return None
    rows = conn.execute(sa.text(wh.named_query("portal", "open_invoices")), {"customer_id": customer_id})
    return Account(customer.customer_id, customer.name, tuple(
        OpenInvoice(r.invoice_number, r.currency, wh.to_date(r.issue_date), wh.to_date(r.due_date), int(r.amount_cents),
                    int(r.open_cents), bool(r.disputed), bool(r.autopay_under_way)) for r in rows))


def payable(account: Account, currency: str, numbers: list[str]) -> tuple[tuple[str, int], ...]:
    """(invoice, open cents) for each chosen invoice, or PaymentRefused: only this customer's open, undisputed
    invoices in the one currency that no autopay charge is taking, each at most once."""
    if not numbers:
        raise PaymentRefused("Choose at least one invoice to pay.")
    if len(set(numbers)) != len(numbers):
        raise PaymentRefused("An invoice was chosen twice.")
    by_number = {i.number: i for i in account.invoices}
    chosen = []
    for number in numbers:
        invoice = by_number.get(number)
        if invoice is None or invoice.currency != currency:
            raise PaymentRefused(f"Invoice {number} is not open on this account in {currency}.")
        if invoice.disputed:
            raise PaymentRefused(f"Invoice {number} is disputed; please talk to us before paying it.")
        if invoice.autopay_under_way:
            raise PaymentRefused(f"Invoice {number} is already being paid by your automatic payment.")
        chosen.append((number, invoice.open_cents))
    return tuple(chosen)


def autopay_cap_cents(conn: Connection, customer_id: str, currency: str, today: date, multiple: int) -> int:
    """The most one autopay charge may take: ``multiple`` x the larger of today's open balance and the largest
    invoice of the last year. A day's charge covers what falls due, so this leaves room for a growing account,
    while an amount far beyond the customer's usual (a ledger error) is not charged but goes to a collector."""
    row = conn.execute(sa.text(wh.named_query("portal", "autopay_cap_basis")),
                       {"customer_id": customer_id, "currency": currency, "since": today - timedelta(days=365)}).one()
    return multiple * max(int(row.open_cents), int(row.largest_cents))


def customer_locale(accept_language: str | None, default: str) -> str:
    """The locale the customer's browser asks for (Accept-Language), when Babel knows it; else the company's."""
    wanted = [part.split(";")[0].strip().replace("-", "_") for part in (accept_language or "").split(",")]
    for tag in wanted:
        if not tag or tag == "*":
            continue
        try:
            locale = Locale.parse(tag)
        except (UnknownLocaleError, ValueError):
            continue
        company = Locale.parse(default)
        if locale.territory is None and company.language == locale.language:
            return default  # "en" from a British company's customer: en_GB, not Babel's en (US) formats
        return str(locale)
    return default
