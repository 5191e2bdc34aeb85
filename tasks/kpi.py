"""AR key performance indicators, computed the same documented way every time.

Pure functions over the ledger as the warehouse holds it (integer cents beside a currency). Every amount is
kept per currency: a KPI is reported once per currency and no total ever adds two currencies.

Balances at a past day are rebuilt from today's open amounts: an invoice issued on or before the day owed,
at the end of that day, its open amount today plus whatever settled it later (payments on the day received,
credit notes on their issue date). At today that is exactly open AR, so every KPI agrees with the aging.
Net credit sales of a period = invoices issued in it (void ones never count) - credit notes issued in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd
from dateutil.relativedelta import relativedelta

from tasks.aging import age_invoices, aging_summary

ONE_PLACE = Decimal("0.1")
COUNTBACK_MONTHS = 12  # DSO countback looks back at most this many months of sales
SIMPLE_DSO_DAYS = 90  # the period-end DSO, Best Possible DSO and ADD use the net credit sales of this many days
TREND_MONTHS = 12


def _ratio(numerator: int | Decimal, denominator: int | Decimal, scale: int = 1) -> Decimal | None:
    """numerator / denominator * scale to one decimal, or None where there is no denominator (never NaN)."""
    if denominator <= 0:
        return None
    return (Decimal(numerator) * scale / Decimal(denominator)).quantize(ONE_PLACE, ROUND_HALF_UP)


def dso_countback(ending_ar_cents: int, monthly_sales: list[tuple[int, int]]) -> Decimal | None:
    """Days Sales Outstanding by the countback method.

    Walk back month by month from the period end, latest month first (``monthly_sales``: (net credit sales
    in cents, days in the month)): while the ending AR covers a whole month's sales, count all its days and
    subtract its sales; the month that covers the rest counts its share of days. DESIGN.md's example: AR
    212,000 against sales 100,000, 80,000 and 70,000 over 30-day months -> 30 + 30 + 32,000/70,000 * 30 = 73.7.
    AR older than every month given counts them all (the result is then a floor). None without sales at all.
    """
    if not any(sales > 0 for sales, _ in monthly_sales):
        return None
    remaining, days = Decimal(max(ending_ar_cents, 0)), Decimal(0)
    for sales, month_days in monthly_sales:
        if remaining <= 0:
            break
        if sales <= 0 or remaining >= sales:
            days += month_days
            remaining -= max(sales, 0)
        else:
            days += remaining / sales * month_days
            remaining = Decimal(0)
    return days.quantize(ONE_PLACE, ROUND_HALF_UP)


def dso_period_end(ending_ar_cents: int, sales_cents: int, days: int) -> Decimal | None:
    """Simple period-end DSO: ending AR / net credit sales of the period * days in the period."""
    return _ratio(ending_ar_cents * days, sales_cents)


def best_possible_dso(current_ar_cents: int, sales_cents: int, days: int) -> Decimal | None:
    """Best Possible DSO: current (not yet due) AR / net credit sales of the period * days in the period."""
    return _ratio(current_ar_cents * days, sales_cents)


def average_days_delinquent(dso: Decimal | None, bpdso: Decimal | None) -> Decimal | None:
    """ADD = period-end DSO - Best Possible DSO, both over the same sales and days: the days the overdue part of
    AR adds."""
    return None if dso is None or bpdso is None else dso - bpdso


def collection_effectiveness(begin_ar: int, sales: int, end_total_ar: int, end_current_ar: int) -> Decimal | None:
    """CEI % = (begin AR + credit sales - end total AR) / (begin AR + credit sales - end current AR) * 100.

    DESIGN.md's example: begin 6,200, sales 10,890, end total 6,340, end current 3,590 -> 79.6 %.
    """
    return _ratio(begin_ar + sales - end_total_ar, begin_ar + sales - end_current_ar, 100)


def percent_of(part: int, whole: int) -> Decimal | None:
    return _ratio(part, whole, 100)


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
    """``count`` months anchored at ``end``, latest first: (end - 1 month, end], (end - 2 months, end - 1 month]..."""
    bounds = [end - relativedelta(months=k) for k in range(count + 1)]
    return [Period(bounds[k + 1] + timedelta(days=1), bounds[k]) for k in range(count)]


@dataclass
class Ledger:
    """The ledger frames KPIs are computed from (sql/reports/*.sql), optionally narrowed to some customers."""

    invoices: pd.DataFrame  # invoice_number, customer_id, currency, issue_date, due_date, amount_cents,
    #                         open_cents, status, disputed, promise_to_pay_date, collector, sales_rep
    settlements: pd.DataFrame  # invoice_number, kind (payment | credit_note), settled_on, amount_cents
    credit_notes: pd.DataFrame  # customer_id, currency, issue_date, amount_cents, collector, sales_rep
    customers: pd.DataFrame  # customer_id, name, collector, sales_rep, on_hold, credit_limit_cents

    def __post_init__(self):
        for frame, columns in ((self.invoices, ("issue_date", "due_date", "promise_to_pay_date")),
                               (self.settlements, ("settled_on",)), (self.credit_notes, ("issue_date",))):
            for column in columns:
                frame[column] = pd.to_datetime(frame[column], format="ISO8601").astype("datetime64[s]")
        for frame in (self.invoices, self.settlements, self.credit_notes):
            frame["amount_cents"] = frame["amount_cents"].astype("int64")
        self.invoices["open_cents"] = self.invoices["open_cents"].astype("int64")
        self.invoices["disputed"] = self.invoices["disputed"].astype(bool)
        self.invoices["currency"] = self.invoices["currency"].astype(str)
        self.credit_notes["currency"] = self.credit_notes["currency"].astype(str)

    def scoped(self, column: str, value: str) -> Ledger:
        """Only the customers whose ``column`` (collector or sales_rep) is ``value``."""
        customers = self.customers[self.customers[column] == value]
        invoices = self.invoices[self.invoices[column] == value]
        return Ledger(invoices.copy(), self.settlements[self.settlements["invoice_number"].isin(
            invoices["invoice_number"])].copy(), self.credit_notes[self.credit_notes[column] == value].copy(),
            customers.copy())

    @property
    def currencies(self) -> list[str]:
        return sorted(set(self.invoices["currency"]) | set(self.credit_notes["currency"]))


def _day(value: date) -> np.datetime64:
    return np.datetime64(value, "s")


def balances_at(ledger: Ledger, days: list[date]) -> pd.DataFrame:
    """Per currency and day (end of day): total AR and current (not yet due) AR in cents.

    An invoice counts from its issue day; a settlement adds back to every day before it; an invoice is current
    up to and including its due day. Computed for all days at once with difference arrays, O(rows log days).
    """
    days = sorted(set(days))
    grid = np.array([_day(d) for d in days])
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
    total, current = totals.cumsum(axis=1)[:, :-1], currents.cumsum(axis=1)[:, :-1]
    return pd.DataFrame([{"currency": c, "day": d, "total_cents": int(total[i, j]), "current_cents": int(current[i, j])}
                         for i, c in enumerate(currencies) for j, d in enumerate(days)],
                        columns=["currency", "day", "total_cents", "current_cents"])


def _spread(acc: np.ndarray, row: np.ndarray, start: np.ndarray, stop: np.ndarray, amount: np.ndarray) -> None:
    """Add ``amount`` to acc[row, start:stop] (as a difference array: cumsum along the row gives the totals)."""
    keep = start < stop
    np.add.at(acc, (row[keep], start[keep]), amount[keep])
    np.add.at(acc, (row[keep], stop[keep]), -amount[keep])


def net_sales(ledger: Ledger, periods: list[Period]) -> pd.DataFrame:
    """Per currency and period: invoices issued minus credit notes issued, in cents."""
    rows = []
    for currency in ledger.currencies:
        inv = ledger.invoices[ledger.invoices["currency"] == currency]
        notes = ledger.credit_notes[ledger.credit_notes["currency"] == currency]
        for p in periods:
            start, end = _day(p.start), _day(p.end)
            issued = inv.loc[inv["issue_date"].between(start, end), "amount_cents"].sum()
            credited = notes.loc[notes["issue_date"].between(start, end), "amount_cents"].sum()
            rows.append({"currency": currency, "start": p.start, "end": p.end, "days": p.days,
                         "sales_cents": int(issued - credited)})
    return pd.DataFrame(rows, columns=["currency", "start", "end", "days", "sales_cents"])


@dataclass
class CurrencyKpis:
    """One currency's KPIs at the period end, and over the period."""

    currency: str
    open_cents: int
    current_cents: int
    past_due_cents: int
    percent_current: Decimal | None
    dso_countback: Decimal | None
    dso_period_end: Decimal | None
    best_possible_dso: Decimal | None
    average_days_delinquent: Decimal | None
    cei: Decimal | None
    sales_cents: int  # net credit sales in the period
    collected_cents: int  # payments received in the period
    credited_cents: int  # credit notes applied in the period
    average_days_to_pay: Decimal | None  # payments in the period, weighted by amount: received - issued
    average_days_beyond_terms: Decimal | None  # the same, received - due (negative: paid early)
    disputed_invoices: int
    disputed_cents: int
    disputed_average_days_past_due: Decimal | None
    promises_due: int
    promises_kept: int


@dataclass
class Kpis:
    """Everything a report shows for one scope (the company, a collector's or a sales rep's accounts)."""

    period: Period
    currencies: list[CurrencyKpis]
    aging: pd.DataFrame  # currency, bucket, invoices, customers, open_cents
    trend: pd.DataFrame  # currency, month_end, dso_countback, cei, open_cents (oldest first)
    top_overdue: pd.DataFrame  # currency, customer_id, name, collector, past_due_cents, open_cents, oldest_days
    disputes: pd.DataFrame  # invoice_number, customer, currency, open_cents, days_past_due
    accounts: pd.DataFrame  # per customer and currency: open, past due, 90+, disputed, on hold
    aging_reconciles: bool

    @property
    def empty(self) -> bool:
        return not self.currencies


def compute_kpis(ledger: Ledger, period: Period, buckets: list[int], top: int = 10) -> Kpis:
    """The KPI book for ``period`` (its end is the cut-off: balances are as of the end of that day)."""
    end = period.end
    months = months_back(end, COUNTBACK_MONTHS + TREND_MONTHS)
    simple = Period(end - timedelta(days=SIMPLE_DSO_DAYS - 1), end)
    month_ends = [m.end for m in months[:TREND_MONTHS + 1]]
    balances = balances_at(ledger, [period.start - timedelta(days=1), end, *month_ends])
    by = {(r.currency, r.day): r for r in balances.itertuples()}
    sales = net_sales(ledger, [*months, simple, period])
    sales_of = {(r.currency, r.start, r.end): int(r.sales_cents) for r in sales.itertuples()}
    aged = _aged(ledger, end, buckets)
    summary = aging_summary(aged, buckets)
    settled, promised = _settled_in(ledger, period), _promises_due(ledger, period)
    rows, trend = [], []
    for currency in ledger.currencies:
        at_end, before = by[(currency, end)], by[(currency, period.start - timedelta(days=1))]
        month_sales = [(sales_of[(currency, m.start, m.end)], m.days) for m in months]
        simple_sales = sales_of[(currency, simple.start, simple.end)]
        period_sales = sales_of[(currency, period.start, period.end)]
        dso = dso_period_end(at_end.total_cents, simple_sales, simple.days)
        bpdso = best_possible_dso(at_end.current_cents, simple_sales, simple.days)
        mine = settled[settled["currency"] == currency]
        paid, credited = mine[mine["kind"] == "payment"], mine[mine["kind"] == "credit_note"]
        disputed = aged[(aged["currency"] == currency) & aged["disputed"]]
        promises = promised.loc[promised["currency"] == currency, "kept"]
        rows.append(CurrencyKpis(
            currency=currency, open_cents=at_end.total_cents, current_cents=at_end.current_cents,
            past_due_cents=at_end.total_cents - at_end.current_cents,
            percent_current=percent_of(at_end.current_cents, at_end.total_cents),
            dso_countback=dso_countback(at_end.total_cents, month_sales[:COUNTBACK_MONTHS]),
            dso_period_end=dso, best_possible_dso=bpdso, average_days_delinquent=average_days_delinquent(dso, bpdso),
            cei=collection_effectiveness(before.total_cents, period_sales, at_end.total_cents, at_end.current_cents),
            sales_cents=period_sales, collected_cents=int(paid["amount_cents"].sum()),
            credited_cents=int(credited["amount_cents"].sum()),
            average_days_to_pay=_weighted_days(paid, "issue_date"),
            average_days_beyond_terms=_weighted_days(paid, "due_date"),
            disputed_invoices=len(disputed), disputed_cents=int(disputed["open_cents"].sum()),
            disputed_average_days_past_due=_ratio(int(disputed["days_past_due"].sum()), len(disputed)),
            promises_due=len(promises), promises_kept=int(promises.sum())))
        for k in range(TREND_MONTHS - 1, -1, -1):
            month, previous = months[k], months[k + 1]
            at, begin = by[(currency, month.end)], by[(currency, previous.end)]
            trend.append({"currency": currency, "month_end": month.end, "open_cents": at.total_cents,
                          "dso_countback": dso_countback(at.total_cents, month_sales[k:k + COUNTBACK_MONTHS]),
                          "cei": collection_effectiveness(begin.total_cents, month_sales[k][0], at.total_cents,
                                                          at.current_cents)})
    return Kpis(period, rows, summary.rows, pd.DataFrame(trend, columns=["currency", "month_end", "open_cents",
                                                                         "dso_countback", "cei"]),
                _top_overdue(aged, ledger, top), _disputes(aged, ledger), _accounts(aged, ledger),
                summary.reconciles and all(summary.open_ar.get(r.currency, 0) == r.open_cents for r in rows))


def _aged(ledger: Ledger, day: date, buckets: list[int]) -> pd.DataFrame:
    """Invoices open at the end of ``day`` with their open amount then, days past due and bucket."""
    inv = ledger.invoices[ledger.invoices["issue_date"] <= _day(day)]
    later = ledger.settlements[ledger.settlements["settled_on"] > _day(day)]
    added = later.groupby("invoice_number")["amount_cents"].sum()
    owed = inv["open_cents"] + inv["invoice_number"].map(added).fillna(0).astype("int64")
    inv = inv.assign(open_cents=owed)[owed > 0]
    aged = age_invoices(inv, day, buckets)
    return aged.assign(disputed=inv["disputed"].to_numpy(), promise_to_pay_date=inv["promise_to_pay_date"].to_numpy())


def _settled_in(ledger: Ledger, period: Period) -> pd.DataFrame:
    """Settlements dated in the period, with their invoice's currency, issue and due dates."""
    s = ledger.settlements
    s = s[s["settled_on"].between(_day(period.start), _day(period.end))]
    return s.merge(ledger.invoices[["invoice_number", "currency", "issue_date", "due_date"]], on="invoice_number")


def _weighted_days(paid: pd.DataFrame, since: str) -> Decimal | None:
    """Days from ``since`` to receipt, averaged over payments weighted by the amount they settled."""
    if paid.empty:
        return None
    days = (paid["settled_on"] - paid[since]).dt.days.to_numpy(np.int64)
    return _ratio(int((days * paid["amount_cents"].to_numpy()).sum()), int(paid["amount_cents"].sum()))


def _promises_due(ledger: Ledger, period: Period) -> pd.DataFrame:
    """Promises to pay that fell due in the period (currency, kept): kept when the invoice was settled in full by
    the promised day. (The ledger keeps only an invoice's latest promise.)"""
    inv = ledger.invoices
    due = inv[inv["promise_to_pay_date"].between(_day(period.start), _day(period.end))]
    if due.empty:
        return pd.DataFrame({"currency": pd.Series(dtype=object), "kept": pd.Series(dtype=bool)})
    last = ledger.settlements.groupby("invoice_number")["settled_on"].max()
    kept = (due["open_cents"] == 0) & (due["invoice_number"].map(last) <= due["promise_to_pay_date"])
    return pd.DataFrame({"currency": due["currency"], "kept": kept.astype(bool)})


def _names(ledger: Ledger) -> pd.DataFrame:
    return ledger.customers[["customer_id", "name", "collector", "sales_rep", "on_hold"]]


def _top_overdue(aged: pd.DataFrame, ledger: Ledger, top: int) -> pd.DataFrame:
    overdue = aged[aged["days_past_due"] > 0]
    grouped = overdue.groupby(["currency", "customer_id"]).agg(
        past_due_cents=("open_cents", "sum"), oldest_days=("days_past_due", "max")).reset_index()
    ranked = grouped.sort_values(["currency", "past_due_cents"], ascending=[True, False]).groupby("currency").head(top)
    return ranked.merge(_names(ledger), on="customer_id", how="left").reset_index(drop=True)


def _disputes(aged: pd.DataFrame, ledger: Ledger) -> pd.DataFrame:
    disputed = aged[aged["disputed"]].merge(_names(ledger), on="customer_id", how="left")
    return disputed.sort_values(["currency", "open_cents"], ascending=[True, False])[
        ["invoice_number", "customer_id", "name", "collector", "sales_rep", "currency", "open_cents",
         "days_past_due"]].reset_index(drop=True)


def _accounts(aged: pd.DataFrame, ledger: Ledger) -> pd.DataFrame:
    """Per customer and currency: open, past due, 90+ days and disputed amounts, and the credit hold flag."""
    a = aged.assign(past_due=np.where(aged["days_past_due"] > 0, aged["open_cents"], 0),
                    over_90=np.where(aged["days_past_due"] > 90, aged["open_cents"], 0),
                    disputed_cents=np.where(aged["disputed"], aged["open_cents"], 0))
    grouped = a.groupby(["customer_id", "currency"]).agg(
        open_cents=("open_cents", "sum"), past_due_cents=("past_due", "sum"), over_90_cents=("over_90", "sum"),
        disputed_cents=("disputed_cents", "sum"), oldest_days=("days_past_due", "max")).reset_index()
    merged = grouped.merge(_names(ledger), on="customer_id", how="left")
    return merged.sort_values(["currency", "past_due_cents", "open_cents"], ascending=[True, False, False]) \
        .reset_index(drop=True)
