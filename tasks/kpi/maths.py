"""AR key performance indicators, computed the same documented way every time.

Pure functions over the ledger as the warehouse holds it (integer cents beside a currency). Every amount is
kept per currency: a KPI is reported once per currency and no total ever adds two currencies.

Balances at a past day are rebuilt from today's open amounts: an invoice issued on or before the day owed,
at the end of that day, its open amount today plus whatever settled it later (payments on the day received,
credit notes on their issue date, a ledger's settled date on that day). At today that is exactly open AR, so
every KPI agrees with the aging. Where the ledger says an invoice was paid but not when, the balances before the
open amounts were read cannot be rebuilt: every figure that needs them is unknown, with the reason, never 0.
Net credit sales of a period = invoices issued in it (void ones never count) - credit notes issued in it.
Months are calendar months: the month of the period end runs from its 1st to the end day.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

from tasks.aging import age_invoices, aging_summary
from tasks.kpi.disputes import DISPUTE_AGE_BANDS, disputes_by_age_and_reason
from tasks.kpi.ledger import Ledger, Period, as_day, balances_at, last_month_end, months_back, net_sales
from tasks.kpi.promises import broken_promises, promise_outcomes, promises_unknown

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


# What a figure needs the ledger to say: the balances at the period end, also those at its start, or every
# settlement dated in the period. Where it does not, the figure is None and named in CurrencyKpis.unknown.
NEEDS_END_BALANCES = ("open_cents", "current_cents", "past_due_cents", "percent_current", "dso_countback",
                      "dso_period_end", "best_possible_dso", "average_days_delinquent", "disputed_invoices",
                      "disputed_cents", "disputed_average_days_open")
NEEDS_START_BALANCES = ("cei",)
NEEDS_PERIOD_SETTLEMENTS = ("collected_cents", "average_days_to_pay", "average_days_beyond_terms")
NEEDS_DISPUTE_HISTORY = ("disputed_invoices", "disputed_cents", "disputed_average_days_open")
NEEDS_PROMISE_RECORDS = ("promises_kept", "promises_kept_cents", "promises_broken", "promises_broken_cents",
                         "promises_open", "promises_open_cents")


@dataclass
class CurrencyKpis:
    """One currency's KPIs at the period end, and over the period. None: no denominator, or (when named in
    ``unknown``) not computable from what the ledger gives, for ``unknown_reason``."""

    currency: str
    open_cents: int | None
    current_cents: int | None
    past_due_cents: int | None
    percent_current: Decimal | None
    dso_countback: Decimal | None
    dso_period_end: Decimal | None
    best_possible_dso: Decimal | None
    average_days_delinquent: Decimal | None
    cei: Decimal | None
    sales_cents: int  # net credit sales in the period
    collected_cents: int | None  # payments received in the period
    credited_cents: int  # credit notes applied in the period
    average_days_to_pay: Decimal | None  # payments in the period, weighted by amount: received - issued
    average_days_beyond_terms: Decimal | None  # the same, received - due (negative: paid early)
    disputed_invoices: int | None  # with a dispute open at the period end, as the syncs saw it
    disputed_cents: int | None
    disputed_average_days_open: Decimal | None  # from the day a sync first saw each dispute to the period end
    promises_kept: int | None  # promise records judged kept in the period (tasks/kpi/promises.py), and their amount
    promises_kept_cents: int | None
    promises_broken: int | None  # judged broken in the period
    promises_broken_cents: int | None
    promises_open: int | None  # recorded by the period end and not yet judged then
    promises_open_cents: int | None
    unknown: frozenset[str] = frozenset()
    unknown_reason: str | None = None


@dataclass
class Kpis:
    """Everything a report shows for one scope (the company, a collector's or a sales rep's accounts)."""

    period: Period
    currencies: list[CurrencyKpis]
    aging: pd.DataFrame  # currency, bucket, invoices, customers, open_cents (currencies with known balances)
    trend: pd.DataFrame  # currency, month_end, dso_countback, cei, open_cents (oldest first)
    top_overdue: pd.DataFrame  # currency, customer_id, name, collector, past_due_cents, open_cents, oldest_days
    disputes: pd.DataFrame  # invoice_number, customer, currency, open_cents, days_past_due, days_open, reason_code,
    #                         reason_text, level (at the period end; None: unknown)
    accounts: pd.DataFrame  # per customer and currency: open, past due, 90+, disputed (None: unknown), on hold
    aging_reconciles: bool
    disputes_unknown: str | None = None  # why what was disputed at the period end is unknown
    dispute_ages: list[dict] = field(default_factory=list)  # open disputes by reason and days open (disputes.py)
    broken_promises: pd.DataFrame | None = None  # promises judged broken in the period (promises.py)
    promises_unknown: str | None = None  # why the promises kept and broken in the period are unknown

    @property
    def empty(self) -> bool:
        return not self.currencies


def compute_kpis(ledger: Ledger, period: Period, buckets: list[int], top: int = 10,
                 dispute_bands: tuple[int, ...] = DISPUTE_AGE_BANDS) -> Kpis:
    """The KPI book for ``period`` (its end is the cut-off: balances are as of the end of that day).

    Countback DSO walks the month of the end up to the end, then whole calendar months; the trend has a point at
    each of the last twelve month ends up to the period end. Open disputes are banded by days open from each of
    ``dispute_bands`` (the escalation policy's level days)."""
    end = period.end
    months = months_back(end, COUNTBACK_MONTHS)
    trend_months = months_back(last_month_end(end), TREND_MONTHS + COUNTBACK_MONTHS)
    simple = Period(end - timedelta(days=SIMPLE_DSO_DAYS - 1), end)
    balances = balances_at(ledger, [period.start - timedelta(days=1), end,
                                    *(m.end for m in trend_months[:TREND_MONTHS + 1])])
    by = {(r.currency, r.day): r for r in balances.itertuples()}
    sales = net_sales(ledger, list(dict.fromkeys([*months, *trend_months, simple, period])))  # month ends overlap
    sales_of = {(r.currency, r.start, r.end): int(r.sales_cents) for r in sales.itertuples()}
    undated = ledger.undated()
    unknown_end = {c for c in ledger.currencies if by[(c, end)].undated_invoices}
    disputes_unknown = _disputes_unknown(ledger, end)
    aged = _aged(ledger, end, buckets)
    aged = aged[~aged["currency"].isin(unknown_end)]
    summary = aging_summary(aged, buckets)
    settled, promised = _settled_in(ledger, period), promise_outcomes(ledger.promises, period)
    unknown_promises = promises_unknown(ledger.promises_known_from, period)
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
        promises = promised.get(currency, dict.fromkeys(NEEDS_PROMISE_RECORDS, 0))
        row = CurrencyKpis(
            currency=currency, open_cents=at_end.total_cents, current_cents=at_end.current_cents,
            past_due_cents=at_end.total_cents - at_end.current_cents,
            percent_current=percent_of(at_end.current_cents, at_end.total_cents),
            dso_countback=dso_countback(at_end.total_cents, month_sales),
            dso_period_end=dso, best_possible_dso=bpdso, average_days_delinquent=average_days_delinquent(dso, bpdso),
            cei=collection_effectiveness(before.total_cents, period_sales, at_end.total_cents, at_end.current_cents),
            sales_cents=period_sales, collected_cents=int(paid["amount_cents"].sum()),
            credited_cents=int(credited["amount_cents"].sum()),
            average_days_to_pay=_weighted_days(paid, "issue_date"),
            average_days_beyond_terms=_weighted_days(paid, "due_date"),
            disputed_invoices=len(disputed), disputed_cents=int(disputed["open_cents"].sum()),
            disputed_average_days_open=_ratio(int(disputed["days_open"].sum()), int(disputed["days_open"].count())),
            **promises)
        row = _unknown(row, undated[undated["currency"] == currency], period, ledger.open_as_of,
                       at_end.undated_invoices > 0, before.undated_invoices > 0)
        row = _blank(row, NEEDS_DISPUTE_HISTORY, disputes_unknown) if disputes_unknown else row
        rows.append(_blank(row, NEEDS_PROMISE_RECORDS, unknown_promises) if unknown_promises else row)
        trend += _trend(currency, trend_months, [(sales_of[(currency, m.start, m.end)], m.days) for m in trend_months],
                        by)
    disputes = _disputes(aged, ledger)
    return Kpis(period, rows, summary.rows, pd.DataFrame(trend, columns=["currency", "month_end", "open_cents",
                                                                         "dso_countback", "cei"]),
                _top_overdue(aged, ledger, top), disputes, _accounts(aged, ledger, disputes_unknown is None),
                summary.reconciles and all(summary.open_ar.get(r.currency, 0) == r.open_cents
                                           for r in rows if r.currency not in unknown_end), disputes_unknown,
                disputes_by_age_and_reason(disputes, dispute_bands),
                broken_promises(ledger.promises, ledger.customers, period), unknown_promises)


def _trend(currency: str, months: list[Period], sales: list[tuple[int, int]], by: dict) -> list[dict]:
    """The trend's points, oldest first: at each of the first TREND_MONTHS ``months`` (latest first, each with its
    (sales, days) in ``sales``), open AR, countback DSO and the month's CEI; None where the balances are unknown."""
    points = []
    for k in range(TREND_MONTHS - 1, -1, -1):
        at, begin = by[(currency, months[k].end)], by[(currency, months[k + 1].end)]
        known = not at.undated_invoices
        points.append({"currency": currency, "month_end": months[k].end,
                       "open_cents": at.total_cents if known else None,
                       "dso_countback": dso_countback(at.total_cents, sales[k:k + COUNTBACK_MONTHS]) if known else None,
                       "cei": collection_effectiveness(begin.total_cents, sales[k][0], at.total_cents, at.current_cents)
                       if known and not begin.undated_invoices else None})
    return points


def _unknown(row: CurrencyKpis, undated: pd.DataFrame, period: Period, open_as_of: date | None, end_unknown: bool,
             start_unknown: bool) -> CurrencyKpis:
    """``row`` with every figure that needs what ``undated`` (this currency's invoices paid on an unknown day)
    hides set to None, named, and the reason said."""
    # such an invoice was paid on a day from its issue to open_as_of: maybe in the period
    in_period = bool(((undated["issue_date"] <= as_day(period.end))
                      & (open_as_of is None or open_as_of >= period.start)).any())
    fields = (NEEDS_END_BALANCES if end_unknown else ()) + (NEEDS_START_BALANCES if end_unknown or start_unknown
                                                             else ()) + (NEEDS_PERIOD_SETTLEMENTS if in_period else ())
    if not fields:
        return row
    first, last = (f"{d:%Y-%m-%d}" for d in (undated["issue_date"].min(), undated["issue_date"].max()))
    amount = Decimal(int(undated["undated_cents"].sum())).scaleb(-2)
    reason = (f"{len(undated):,} invoice(s) issued " + (f"on {first}" if first == last else f"from {first} to {last}")
              + f" are paid, but the ledger gives no payment, credit note or settled date for {amount:,.2f} "
              f"{row.currency} of them, so what was owed before "
              + (f"{open_as_of:%Y-%m-%d}" if open_as_of else "the last sync") + " cannot be rebuilt")
    return _blank(row, fields, reason)


def _blank(row: CurrencyKpis, fields: tuple[str, ...], reason: str) -> CurrencyKpis:
    """``row`` with ``fields`` unknown for ``reason`` (besides any reason it already has)."""
    reasons = [r for r in (row.unknown_reason, reason) if r]
    return replace(row, **dict.fromkeys(fields), unknown=row.unknown | set(fields), unknown_reason="; ".join(reasons))


def _disputes_unknown(ledger: Ledger, day: date) -> str | None:
    """Why what was disputed at the end of ``day`` is unknown, or None. The ledger says only what is disputed
    now; the syncs' dispute records say since when, from the first dispute a sync recorded."""
    known_from = ledger.disputes_known_from
    if known_from is None or known_from <= day:
        return None
    if known_from == date.max:
        return "invoices are disputed, but no sync has recorded since when yet"
    return (f"disputes are known from {known_from:%Y-%m-%d}, the first day a sync recorded one, after the end of "
            "the period")


def _aged(ledger: Ledger, day: date, buckets: list[int]) -> pd.DataFrame:
    """Invoices open at the end of ``day`` with their open amount then, days past due and bucket; disputed if a
    dispute a sync saw was open then, days_open since a sync first saw it."""
    inv = ledger.invoices[ledger.invoices["issue_date"] <= as_day(day)]
    later = ledger.settlements[ledger.settlements["settled_on"] > as_day(day)]
    added = later.groupby("invoice_number")["amount_cents"].sum()
    owed = inv["open_cents"] + inv["invoice_number"].map(added).fillna(0).astype("int64")
    inv = inv.assign(open_cents=owed)[owed > 0]
    aged = age_invoices(inv, day, buckets)
    d, at = ledger.disputes, as_day(day)
    live = d[(d["opened_on"] <= at) & (d["closed_on"].isna() | (d["closed_on"] > at))]
    latest = live.sort_values("opened_on").drop_duplicates("invoice_number", keep="last").astype({"invoice_number": str})
    # the level it had at the end of the day: the level now if raised by then; raised since from level 1, it was 0
    # then; from a higher level, it was lower then, but which is unknown (None)
    raised_later = latest["level_raised_on"].notna() & (latest["level_raised_on"] > at)
    latest = latest.assign(level=latest["level"].astype(object).where(~raised_later, None).where(
        ~(raised_later & (latest["level"] == 1)), 0))
    found = inv[["invoice_number"]].astype(str).merge(
        latest[["invoice_number", "opened_on", "reason_code", "reason_text", "level"]], on="invoice_number", how="left")
    since = found["opened_on"]
    return aged.assign(disputed=since.notna().to_numpy(), promise_to_pay_date=inv["promise_to_pay_date"].to_numpy(),
                       days_open=(at - since).dt.days.to_numpy(), reason_code=found["reason_code"].to_numpy(),
                       reason_text=found["reason_text"].to_numpy(), level=found["level"].to_numpy())


def _settled_in(ledger: Ledger, period: Period) -> pd.DataFrame:
    """Settlements dated in the period, with their invoice's currency, issue and due dates."""
    s = ledger.settlements
    s = s[s["settled_on"].between(as_day(period.start), as_day(period.end))]
    return s.merge(ledger.invoices[["invoice_number", "currency", "issue_date", "due_date"]], on="invoice_number")


def _weighted_days(paid: pd.DataFrame, since: str) -> Decimal | None:
    """Days from ``since`` to receipt, averaged over payments weighted by the amount they settled."""
    if paid.empty:
        return None
    days = (paid["settled_on"] - paid[since]).dt.days.to_numpy(np.int64)
    return _ratio(int((days * paid["amount_cents"].to_numpy()).sum()), int(paid["amount_cents"].sum()))


def _names(ledger: Ledger) -> pd.DataFrame:
    return ledger.customers[["customer_id", "name", "collector", "sales_rep", "on_hold"]]


def _top_overdue(aged: pd.DataFrame, ledger: Ledger, top: int) -> pd.DataFrame:
    overdue = aged[aged["days_past_due"] > 0]
    grouped = overdue.groupby(["currency", "customer_id"]).agg(
        past_due_cents=("open_cents", "sum"), oldest_days=("days_past_due", "max")).reset_index()
    ranked = grouped.sort_values(["currency", "past_due_cents"], ascending=[True, False]).groupby("currency").head(top)
    return ranked.merge(_names(ledger), on="customer_id", how="left").reset_index(drop=True)


def _disputes(aged: pd.DataFrame, ledger: Ledger) -> pd.DataFrame:
    disputed = aged[aged["disputed"]].astype({"days_open": "int64"}).merge(_names(ledger), on="customer_id", how="left")
    return disputed.sort_values(["currency", "open_cents"], ascending=[True, False])[
        ["invoice_number", "customer_id", "name", "collector", "sales_rep", "currency", "open_cents",
         "days_past_due", "days_open", "reason_code", "reason_text", "level"]].reset_index(drop=True)


def _accounts(aged: pd.DataFrame, ledger: Ledger, disputes_known: bool) -> pd.DataFrame:
    """Per customer and currency: open, past due, 90+ days and disputed amounts (None where what was disputed is
    unknown), and the credit hold flag."""
    a = aged.assign(past_due=np.where(aged["days_past_due"] > 0, aged["open_cents"], 0),
                    over_90=np.where(aged["days_past_due"] > 90, aged["open_cents"], 0),
                    disputed_cents=np.where(aged["disputed"], aged["open_cents"], 0))
    grouped = a.groupby(["customer_id", "currency"]).agg(
        open_cents=("open_cents", "sum"), past_due_cents=("past_due", "sum"), over_90_cents=("over_90", "sum"),
        disputed_cents=("disputed_cents", "sum"), oldest_days=("days_past_due", "max")).reset_index()
    if not disputes_known:
        grouped["disputed_cents"] = None
    merged = grouped.merge(_names(ledger), on="customer_id", how="left")
    return merged.sort_values(["currency", "past_due_cents", "open_cents"], ascending=[True, False, False]) \
        .reset_index(drop=True)
