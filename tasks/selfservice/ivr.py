"""The IVR's rules: who the caller is, what the menu's answers are, when a collector takes calls, which day a
promise is for. Pure functions over what the warehouse holds; the routes (tasks/selfservice/ivr_routes.py) read
and write, and turn these into TwiML.

Who is calling. The caller ID among the AP contacts' numbers (tasks/selfservice/inbox.customers_by_phone): one
customer, that account; several, the caller picks one by key; none, the caller keys in the account number. Customer
ids may hold letters ("CUST-0042"): the caller keys the id's digits only (0042), and it matches when exactly one
customer's id has those digits, in that order, and no others (an id without digits cannot be keyed; two ids with
the same digits, such as A7 and B7, match neither: the caller is put through to the AR desk). Three wrong account
numbers, and the caller is put through to the AR desk. Nothing about an account is said before this.

Amounts. "Past due" is what is open on invoices due before today (the company's calendar), per currency, without
the invoices the ledger marks disputed: those are said separately, as under dispute. "Next due" is the earliest
due date from today on among open invoices, with what falls due that day per currency (disputed included: the
customer owes it unless the dispute goes their way).

A promise is keyed as a number of days from today (7# is a week; friendlier on a keypad than a date in eight
digits), 0 to MAX_PROMISE_DAYS, read back as a spoken date, for everything open in one currency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from blocks.company import CompanyProfile
from tasks.portal.account import Account

ACCOUNT_TRIES = 3
MAX_PROMISE_DAYS = 60
MENU = {"1": "past due", "2": "last payment", "3": "next due", "4": "send", "5": "promise", "0": "collector"}
T = TypeVar("T")


@dataclass(frozen=True)
class Payment:
    received_on: date
    currency: str
    amount_cents: int


def account_digits(customer_id: str) -> str:
    """What a caller keys for this account: the id's digits."""
    return "".join(ch for ch in customer_id if ch.isdigit())


def account_keyed(keyed: str, customers: Sequence[T]) -> T | None:
    """The one customer whose id's digits are what the caller keyed, or None (nothing keyed, none, or several)."""
    found = [c for c in customers if keyed and account_digits(c.customer_id) == keyed]
    return found[0] if len(found) == 1 else None


def picked(keyed: str, options: Sequence[T]) -> T | None:
    """The option the caller picked by its number (1 for the first), or None."""
    return options[int(keyed) - 1] if keyed.isdigit() and 1 <= int(keyed) <= len(options) else None


def past_due(account: Account, today: date) -> tuple[dict[str, int], dict[str, int]]:
    """(undisputed, disputed) cents per currency open on invoices due before ``today``."""
    owed: dict[str, int] = {}
    disputed: dict[str, int] = {}
    for invoice in account.invoices:
        if invoice.due < today and invoice.open_cents > 0:
            into = disputed if invoice.disputed else owed
            into[invoice.currency] = into.get(invoice.currency, 0) + invoice.open_cents
    return owed, disputed


def next_due(account: Account, today: date) -> tuple[date | None, dict[str, int]]:
    """The earliest due date from ``today`` on and the cents per currency due that day; (None, {}) if none."""
    coming = [i for i in account.invoices if i.due >= today and i.open_cents > 0]
    if not coming:
        return None, {}
    day = min(i.due for i in coming)
    due: dict[str, int] = {}
    for invoice in coming:
        if invoice.due == day:
            due[invoice.currency] = due.get(invoice.currency, 0) + invoice.open_cents
    return day, due


def open_by_currency(account: Account) -> dict[str, int]:
    """Everything open per currency: what a promise covers, and what a pay link is for."""
    return {c: account.total_cents(c) for c in account.currencies if account.total_cents(c) > 0}


def payable_by_currency(account: Account) -> dict[str, int]:
    """What the pay link lets the customer pay per currency: open, not disputed, no autopay charge under way (as
    the portal's page offers it), so a text never asks for more than the page takes."""
    payable: dict[str, int] = {}
    for invoice in account.invoices:
        if invoice.open_cents > 0 and invoice.why_not_payable is None:
            payable[invoice.currency] = payable.get(invoice.currency, 0) + invoice.open_cents
    return payable


def promise_day(keyed: str, today: date) -> date | None:
    """The day ``keyed`` days from ``today``, or None when it is not a number from 0 to MAX_PROMISE_DAYS."""
    if not keyed.isdigit() or int(keyed) > MAX_PROMISE_DAYS:
        return None
    return today + timedelta(days=int(keyed))


def collector_available(now: datetime, company: CompanyProfile, start: time, end: time) -> bool:
    """Collectors take calls on the company's business days from ``start`` to ``end``, company time."""
    local = now.astimezone(ZoneInfo(company.time_zone))
    return company.is_business_day(local.date()) and start <= local.time() < end
