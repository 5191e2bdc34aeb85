"""The ledger as the KPIs read it, and what was owed at the end of any past day.

Balances at a past day are rebuilt from today's open amounts plus whatever settled each invoice later (see
``balances_at``). An invoice the ledger says is paid without saying when (no payment, credit note or settled date
for part of what it no longer owes) is "undated": on each day from its issue until the open amounts were read it
may or may not have been owed, so the balances of those days are unknown, and counted as such.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
from dateutil.relativedelta import relativedelta


@dataclass(frozen=True)
class Period:
    """Whole days from ``start`` to ``end``, both included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @classmethod
    def week_ending(cls, end: date) -> Period:
        return cls(end - timedelta(days=6), end)

    @classmethod
    def month_of(cls, day: date) -> Period:
        start = day.replace(day=1)
        return cls(start, start + relativedelta(months=1) - timedelta(days=1))


def months_back(end: date, count: int) -> list[Period]:
    """``count`` calendar months, latest first: the month of ``end`` from its 1st up to ``end`` (whole when ``end``
    is its last day), then whole calendar months before it."""
    first = end.replace(day=1)
    return [Period(first, end)] + [Period.month_of(first - relativedelta(months=k)) for k in range(1, count)]


def last_month_end(day: date) -> date:
    """``day`` if it is the last day of its month, else the last day of the month before."""
    return day if (day + timedelta(days=1)).day == 1 else day.replace(day=1) - timedelta(days=1)


@dataclass
class Ledger:
    """The ledger frames KPIs are computed from (sql/reports/*.sql), optionally narrowed to some customers."""

    invoices: pd.DataFrame  # invoice_number, customer_id, currency, issue_date, due_date, amount_cents,
    #                         open_cents, status, disputed, promise_to_pay_date, collector, sales_rep
    settlements: pd.DataFrame  # invoice_number, kind (payment | credit_note), settled_on, amount_cents
    credit_notes: pd.DataFrame  # customer_id, currency, issue_date, amount_cents, collector, sales_rep
    customers: pd.DataFrame  # customer_id, name, collector, sales_rep, on_hold, credit_limit_cents
    open_as_of: date | None = None  # the day the open amounts were read; None: after every day asked about
    disputes: pd.DataFrame | None = None  # invoice_number, opened_on, closed_on: the days syncs saw each dispute
    #                                       open and end (sql/reports/disputes.sql), reason_code, reason_text,
    #                                       level, level_raised_on (the day it last went up); None: none recorded
    disputes_known_from: date | None = None  # the first day a sync recorded a dispute, for the whole ledger (kept
    #                                          when scoped); date.max: invoices are disputed but none is recorded
    promises: pd.DataFrame | None = None  # promise records (sql/reports/promises.sql): promise_id, customer_id,
    #                                       currency, amount_cents, promised_for, taken_by, recorded_on, status,
    #                                       resolved_on; None: none recorded
    promises_known_from: date | None = None  # the first day a promise was recorded, for the whole ledger (kept
    #                                          when scoped); date.max: invoices carry promises but none is recorded
    exchange_rates: pd.DataFrame | None = None  # the ledger's rates (sql/reports/exchange_rates.sql): rate_on,
    #                                             currency, rate (decimal text); None: none synced
    credit_holds: pd.DataFrame | None = None  # customers whose hold is in force (credit_holds.sql): customer_id,
    #                                           source, ledger_hold, approved_by, approved_at, why; None: the ledger's

    def __post_init__(self):
        self.disputes = _with_columns(self.disputes, DISPUTE_COLUMNS)
        self.promises = _with_columns(self.promises, PROMISE_COLUMNS)
        for frame, columns in ((self.invoices, ("issue_date", "due_date", "promise_to_pay_date")),
                               (self.settlements, ("settled_on",)), (self.credit_notes, ("issue_date",)),
                               (self.disputes, ("opened_on", "closed_on", "level_raised_on")),
                               (self.promises, ("promised_for", "recorded_on", "resolved_on"))):
            for column in columns:
                frame[column] = pd.to_datetime(frame[column], format="ISO8601").astype("datetime64[s]")
        self.disputes["level"] = self.disputes["level"].fillna(0).astype("int64")
        self.promises["amount_cents"] = self.promises["amount_cents"].astype("int64")
        if self.promises_known_from is None and len(self.promises):
            self.promises_known_from = self.promises["recorded_on"].min().date()
        elif self.promises_known_from is None and self.invoices["promise_to_pay_date"].notna().any():
            self.promises_known_from = date.max
        for frame in (self.invoices, self.settlements, self.credit_notes):
            frame["amount_cents"] = frame["amount_cents"].astype("int64")
        self.invoices["open_cents"] = self.invoices["open_cents"].astype("int64")
        self.invoices["disputed"] = self.invoices["disputed"].astype(bool)
        self.invoices["currency"] = self.invoices["currency"].astype(str)
        self.credit_notes["currency"] = self.credit_notes["currency"].astype(str)
        if self.disputes_known_from is None and len(self.disputes):
            self.disputes_known_from = self.disputes["opened_on"].min().date()
        elif self.disputes_known_from is None and (self.invoices["disputed"] & (self.invoices["open_cents"] > 0)).any():
            self.disputes_known_from = date.max

    def scoped(self, column: str, value: str) -> Ledger:
        """Only the customers whose ``column`` (collector or sales_rep) is ``value``."""
        customers = self.customers[self.customers[column] == value]
        invoices = self.invoices[self.invoices[column] == value]

        def theirs(frame: pd.DataFrame) -> pd.DataFrame:
            return frame[frame["invoice_number"].isin(invoices["invoice_number"])].copy()

        notes = self.credit_notes[self.credit_notes[column] == value]
        promises = self.promises[self.promises["customer_id"].isin(customers["customer_id"])]
        holds = None if self.credit_holds is None else \
            self.credit_holds[self.credit_holds["customer_id"].isin(customers["customer_id"])].copy()
        return Ledger(invoices.copy(), theirs(self.settlements), notes.copy(), customers.copy(), self.open_as_of,
                      theirs(self.disputes), self.disputes_known_from, promises.copy(), self.promises_known_from,
                      self.exchange_rates, holds)

    @property
    def currencies(self) -> list[str]:
        return sorted(set(self.invoices["currency"]) | set(self.credit_notes["currency"]))

    def undated(self) -> pd.DataFrame:
        """Invoices that no longer owe more than their dated settlements explain (invoice_number, currency,
        issue_date, undated_cents): paid on a day the ledger does not give, so owed or not on any day from their
        issue until the open amounts were read."""
        dated = self.settlements.groupby("invoice_number")["amount_cents"].sum()
        inv = self.invoices
        missing = inv["amount_cents"] - inv["open_cents"] - inv["invoice_number"].map(dated).fillna(0).astype("int64")
        undated = missing > 0
        return inv.loc[undated, ["invoice_number", "currency", "issue_date"]].assign(undated_cents=missing[undated])


DISPUTE_COLUMNS = {"invoice_number": None, "opened_on": None, "closed_on": None, "reason_code": None,
                   "reason_text": None, "level": 0, "level_raised_on": None}
PROMISE_COLUMNS = {"promise_id": None, "customer_id": None, "currency": None, "amount_cents": 0, "promised_for": None,
                   "taken_by": None, "recorded_on": None, "status": None, "resolved_on": None}


def _with_columns(frame: pd.DataFrame | None, columns: dict) -> pd.DataFrame:
    """``frame`` (None: an empty one) with every column in ``columns``, missing ones filled with their default."""
    if frame is None:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return frame.assign(**{c: default for c, default in columns.items() if c not in frame.columns})


def as_day(value: date) -> np.datetime64:
    return np.datetime64(value, "s")


def balances_at(ledger: Ledger, days: list[date]) -> pd.DataFrame:
    """Per currency and day (end of day): total AR and current (not yet due) AR in cents, and how many invoices
    paid on an unknown day could still have been owed then (``undated_invoices``: the balances are unknown if any).

    An invoice counts from its issue day; a settlement adds back to every day before it; an invoice is current
    up to and including its due day. Computed for all days at once with difference arrays, O(rows log days).
    """
    days = sorted(set(days))
    grid = np.array([as_day(d) for d in days])
    currencies = ledger.currencies
    totals = np.zeros((len(currencies), len(days) + 1), dtype=np.int64)
    currents = np.zeros_like(totals)
    inv = ledger.invoices
    code = pd.Categorical(inv["currency"], categories=currencies).codes
    issued = np.searchsorted(grid, inv["issue_date"].to_numpy(), "left")
    past_due = np.searchsorted(grid, (inv["due_date"] + pd.Timedelta(days=1)).to_numpy(), "left")
    _spread(totals, code, issued, np.full(len(inv), len(days)), inv["open_cents"].to_numpy())
    _spread(currents, code, issued, past_due, inv["open_cents"].to_numpy())
    later = ledger.settlements.merge(inv[["invoice_number", "currency", "issue_date", "due_date"]], on="invoice_number")
    if len(later):
        code = pd.Categorical(later["currency"], categories=currencies).codes
        issued = np.searchsorted(grid, later["issue_date"].to_numpy(), "left")
        settled = np.searchsorted(grid, later["settled_on"].to_numpy(), "left")
        due_end = np.searchsorted(grid, (later["due_date"] + pd.Timedelta(days=1)).to_numpy(), "left")
        _spread(totals, code, issued, settled, later["amount_cents"].to_numpy())
        _spread(currents, code, issued, np.minimum(settled, due_end), later["amount_cents"].to_numpy())
    undated, unknown = ledger.undated(), np.zeros_like(totals)
    if len(undated):
        known = len(days) if ledger.open_as_of is None else np.searchsorted(grid, as_day(ledger.open_as_of), "left")
        _spread(unknown, pd.Categorical(undated["currency"], categories=currencies).codes,
                np.searchsorted(grid, undated["issue_date"].to_numpy(), "left"), np.full(len(undated), known),
                np.ones(len(undated), dtype=np.int64))
    total, current, undated = (a.cumsum(axis=1)[:, :-1] for a in (totals, currents, unknown))
    return pd.DataFrame([{"currency": c, "day": d, "total_cents": int(total[i, j]), "current_cents": int(current[i, j]),
                          "undated_invoices": int(undated[i, j])}
                         for i, c in enumerate(currencies) for j, d in enumerate(days)],
                        columns=["currency", "day", "total_cents", "current_cents", "undated_invoices"])


def _spread(acc: np.ndarray, row: np.ndarray, start: np.ndarray, stop: np.ndarray, amount: np.ndarray) -> None:
    """Add ``amount`` to acc[row, start:stop] (as a difference array: cumsum along the row gives the totals)."""
    keep = start < stop
    np.add.at(acc, (row[keep], start[keep]), amount[keep])
    np.add.at(acc, (row[keep], stop[keep]), -amount[keep])


def net_sales(ledger: Ledger, periods: list[Period]) -> pd.DataFrame:
    """Per currency and period: invoices issued minus credit notes issued, in cents (running sums over the
    documents sorted by issue day, so each period costs two binary searches)."""
    starts = np.array([as_day(p.start) for p in periods], dtype="datetime64[s]")
    ends = np.array([as_day(p.end) for p in periods], dtype="datetime64[s]")
    issued = _issued_between(ledger.invoices, starts, ends)
    credited = _issued_between(ledger.credit_notes, starts, ends)
    zero = np.zeros(len(periods), dtype=np.int64)
    return pd.DataFrame([{"currency": c, "start": p.start, "end": p.end, "days": p.days,
                          "sales_cents": int(issued.get(c, zero)[k] - credited.get(c, zero)[k])}
                         for c in ledger.currencies for k, p in enumerate(periods)],
                        columns=["currency", "start", "end", "days", "sales_cents"])


def _issued_between(documents: pd.DataFrame, starts: np.ndarray, ends: np.ndarray) -> dict[str, np.ndarray]:
    """Per currency: the amount of the documents issued from each start to its end (both included)."""
    sums = {}
    for currency, group in documents.groupby("currency", sort=False):
        order = np.argsort(group["issue_date"].to_numpy(), kind="stable")
        days = group["issue_date"].to_numpy()[order]
        running = np.concatenate(([0], np.cumsum(group["amount_cents"].to_numpy(np.int64)[order])))
        sums[str(currency)] = (running[np.searchsorted(days, ends, "right")]
                               - running[np.searchsorted(days, starts, "left")])
    return sums
