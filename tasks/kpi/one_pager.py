"""The executive one-pager: the company's figures in the reporting currency against the executives' targets, with
the trend against the previous period, and the five things to act on first in each of four lists.

Every figure is built from the per-currency KPIs (tasks/kpi/maths.py) by the rounding rule of tasks/kpi/rates.py:
each currency's amount converted once at the rate of the period end, the company's amount their sum. DSO and CEI
use the same formulas on those converted amounts (countback DSO: ending AR against each month's converted net
credit sales; CEI: converted AR at the start, sales, AR and current AR at the end), all at the period end's rates.
The previous period, for the trend, is converted at its own end's rates, so a trend includes currency moves. A figure some currency cannot give (unknown in the ledger, or no
rate) is unknown with that reason: never 0, never 100 %, never green.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pandas as pd

from reports.builder import target_met
from reports.formats import company_figure
from tasks.kpi.ledger import Ledger, Period, balances_at, months_back, net_sales
from tasks.kpi.maths import (
    COUNTBACK_MONTHS,
    Kpis,
    collection_effectiveness,
    compute_kpis,
    dso_countback,
    percent_of,
)
from tasks.kpi.rates import CompanyFigure, ExchangeRates, RateUsed, company_total, exchange_rates

ACT_ON = 5  # rows per "things to act on" list


def previous_period(period: Period) -> Period:
    """The period a trend compares with: the calendar month before a whole month, else as many days just before."""
    if period == Period.month_of(period.start):
        return Period.month_of(period.start - timedelta(days=1))
    return Period(period.start - timedelta(days=period.days), period.start - timedelta(days=1))


def company_figures(ledger: Ledger, kpis: Kpis, rates: dict[str, RateUsed | None]) -> dict[str, CompanyFigure]:
    """The company-wide open AR, current and past due AR, share current, countback DSO, CEI and collected of
    ``kpis``' period, from its per-currency figures converted at ``rates`` (one per currency, at the period end)."""
    period, end = kpis.period, kpis.period.end
    reasons = {c.currency: c.unknown_reason for c in kpis.currencies}

    def total(name: str) -> CompanyFigure:
        return company_total({c.currency: None if name in c.unknown else getattr(c, name) for c in kpis.currencies},
                             rates, end, reasons)

    figures = {name: total(name) for name in ("open_cents", "current_cents", "past_due_cents", "collected_cents",
                                              "sales_cents")}
    begin = balances_at(ledger, [period.start - timedelta(days=1)]).set_index("currency")["total_cents"]
    figures["begin_cents"] = company_total({c.currency: None if "cei" in c.unknown else int(begin[c.currency])
                                            for c in kpis.currencies}, rates, end, reasons)
    months = months_back(end, COUNTBACK_MONTHS)
    sales = net_sales(ledger, months)
    monthly = [company_total({r.currency: int(r.sales_cents) for r in sales[sales["start"] == m.start].itertuples()},
                             rates, end) for m in months]
    opened, current = figures["open_cents"], figures["current_cents"]
    figures["percent_current"] = _derived(percent_of, current, opened)
    figures["dso_countback"] = _derived(lambda ar, *s: dso_countback(ar, [(v, m.days) for v, m in zip(s, months)]),
                                        opened, *monthly)
    figures["cei"] = _derived(collection_effectiveness, figures["begin_cents"], figures["sales_cents"], opened, current)
    return figures


def _derived(formula, *inputs: CompanyFigure) -> CompanyFigure:
    """``formula`` of the inputs' values, or unknown for the first unknown input's reason."""
    for figure in inputs:
        if figure.unknown:
            return CompanyFigure(None, figure.unknown_reason)
    return CompanyFigure(formula(*(f.value for f in inputs)))


@dataclass(frozen=True)
class Headline:
    """One line of the one-pager: the figure now and at the end of the previous period, against its target."""

    label: str
    unit: str  # money | days | percent
    now: CompanyFigure
    previous: CompanyFigure
    target: Decimal | None = None
    higher_is_better: bool | None = None  # None: no better direction (shown without colour)

    @property
    def status(self) -> str | None:
        """green, red, or None: no target, or the figure is unknown or has no denominator (never green then)."""
        met = target_met(self.now.value, self.target, bool(self.higher_is_better))
        return None if met is None else "green" if met else "red"

    @property
    def trend(self) -> str | None:
        """up, down or flat against the previous period; None when either is unknown or has no figure."""
        if self.now.value is None or self.previous.value is None:
            return None
        return "up" if self.now.value > self.previous.value else "down" if self.now.value < self.previous.value \
            else "flat"

    @property
    def improved(self) -> bool | None:
        if self.trend in (None, "flat") or self.higher_is_better is None:
            return None
        return (self.trend == "up") == self.higher_is_better


HEADLINES = (  # label, figure, unit, target field of the report recipients block, higher is better
    ("Open AR", "open_cents", "money", None, None),
    ("Past due", "past_due_cents", "money", None, False),
    ("% current (not yet due)", "percent_current", "percent", "current_target_percent", True),
    ("DSO, countback", "dso_countback", "days", "dso_target_days", False),
    ("Collection effectiveness, CEI", "cei", "percent", "cei_target_percent", True),
    ("Collected in the period", "collected_cents", "money", None, True),
)


@dataclass
class OnePager:
    reporting_currency: str
    rates_source: str
    period: Period
    previous: Period
    headlines: list[Headline]
    rates: list[dict]  # per currency: currency, rate, rate_on (None: no rate), open_cents, converted_cents
    overdue: list[dict] = field(default_factory=list)
    disputes: list[dict] = field(default_factory=list)
    promises: list[dict] = field(default_factory=list)
    holds: list[dict] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # list -> rows in all (the page shows ACT_ON)
    unconverted: list[str] = field(default_factory=list)  # why some rows of the lists could not be converted
    disputes_unknown: str | None = None
    promises_unknown: str | None = None


def one_pager(ledger: Ledger, kpis: Kpis, previous: Kpis, exchange: ExchangeRates, targets) -> OnePager:
    """The one-pager of ``kpis``' period, its trend against ``previous`` (the KPIs of previous_period), and the
    lists to act on; ``targets``: the report recipients block."""
    end, before = kpis.period.end, previous.period.end
    now_rates, then_rates = exchange.at(ledger.currencies, end), exchange.at(ledger.currencies, before)
    now, then = company_figures(ledger, kpis, now_rates), company_figures(ledger, previous, then_rates)
    headlines = [Headline(label, unit, now[key], then[key], getattr(targets, target) if target else None, higher)
                 for label, key, unit, target, higher in HEADLINES]
    lines = [{"currency": c.currency, "rate": r.rate if r else None, "rate_on": r.rate_on if r else None,
              "open_cents": c.open_cents,
              "converted_cents": company_total({c.currency: c.open_cents}, now_rates, end).value}
             for c in kpis.currencies for r in [now_rates.get(c.currency)]]
    lists = {"overdue": largest_overdue(kpis.accounts, now_rates, end),
             "disputes": oldest_disputes(kpis.disputes, now_rates, end),
             "promises": largest_broken_promises(kpis.broken_promises, now_rates, end),
             "holds": credit_holds(ledger.customers, ledger.credit_holds, kpis.accounts, now_rates, end)}
    return OnePager(exchange.reporting_currency, exchange.source, kpis.period, previous.period, headlines, lines,
                    **{name: rows[:ACT_ON] for name, rows in lists.items()},
                    counts={name: len(rows) for name, rows in lists.items()},
                    unconverted=sorted({r["not_converted"] for rows in lists.values() for r in rows
                                        if r["not_converted"]}),
                    disputes_unknown=kpis.disputes_unknown, promises_unknown=kpis.promises_unknown)


def _converted(amounts: list[tuple[str, int]], rates: dict[str, RateUsed | None], day: date) -> dict:
    """The reporting-currency sum of ``amounts`` ([(currency, cents)]) for ranking and showing; ``not_converted``
    says which rate is missing (the row keeps its own amounts and sorts last)."""
    summed = _summed(amounts)
    figure = company_total(summed, rates, day)
    return {"converted_cents": figure.value, "not_converted": figure.unknown_reason, "amounts": sorted(summed.items())}


def _summed(amounts: list[tuple[str, int]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for currency, cents in amounts:
        out[currency] = out.get(currency, 0) + int(cents)
    return out


def _ranked(rows: list[dict]) -> list[dict]:
    """Largest converted amount first; rows that could not be converted last, by their own amount."""
    return sorted(rows, key=lambda r: (r["converted_cents"] is None, -(r["converted_cents"] or 0),
                                       -sum(c for _, c in r["amounts"])))


def largest_overdue(accounts: pd.DataFrame, rates: dict[str, RateUsed | None], day: date) -> list[dict]:
    """Customers by past-due AR in the reporting currency (their currencies converted and added)."""
    overdue = accounts[accounts["past_due_cents"] > 0]
    rows = [{"customer_id": customer, "name": group["name"].iloc[0], "collector": group["collector"].iloc[0],
             "oldest_days": int(group["oldest_days"].max()),
             **_converted(list(zip(group["currency"], group["past_due_cents"], strict=True)), rates, day)}
            for customer, group in overdue.groupby("customer_id", sort=True)]
    return _ranked(rows)


def oldest_disputes(disputes: pd.DataFrame, rates: dict[str, RateUsed | None], day: date) -> list[dict]:
    """Invoices disputed at the period end, open longest first (then the largest)."""
    rows = [{"invoice_number": r.invoice_number, "name": r.name, "days_open": int(r.days_open),
             "reason": _text(r.reason_code) or _text(r.reason_text) or "no reason given",
             **_converted([(r.currency, r.open_cents)], rates, day)} for r in disputes.itertuples()]
    return sorted(rows, key=lambda r: (-r["days_open"], r["converted_cents"] is None, -(r["converted_cents"] or 0)))


def _text(value) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def largest_broken_promises(broken: pd.DataFrame | None, rates: dict[str, RateUsed | None], day: date) -> list[dict]:
    """Promises judged broken in the period, the largest (converted) first."""
    if broken is None:
        return []
    return _ranked([{"customer_id": r.customer_id, "name": r.name or r.customer_id, "promised_for": r.promised_for,
                     "taken_by": r.taken_by, **_converted([(r.currency, r.amount_cents)], rates, day)}
                    for r in broken.itertuples()])


def credit_holds(customers: pd.DataFrame, holds: pd.DataFrame | None, accounts: pd.DataFrame,
                 rates: dict[str, RateUsed | None], day: date) -> list[dict]:
    """Customers whose credit hold is in force (``holds``, from the warehouse: a hold a credit review approved
    counts before the ERP shows it, a release likewise; None: the ledger's flag), each with its open AR converted,
    most owed first, and who approved an arpilot hold, when and why."""
    if holds is None:
        holds = customers.loc[customers["on_hold"].astype(bool), ["customer_id"]].assign(
            source="ledger", ledger_hold=True, approved_by=None, approved_at=None, why=None)
    names = customers.set_index("customer_id")["name"]
    rows = []
    for hold in holds.itertuples():
        arpilot = hold.source == "arpilot"
        theirs = accounts[accounts["customer_id"] == hold.customer_id]
        rows.append({"customer_id": hold.customer_id, "name": names.get(hold.customer_id, hold.customer_id),
                     "in_ledger": bool(hold.ledger_hold), "approved_by": hold.approved_by if arpilot else None,
                     "approved_at": pd.Timestamp(hold.approved_at).date() if arpilot else None,
                     "why": hold.why if arpilot else None,
                     **_converted(list(zip(theirs["currency"], theirs["open_cents"], strict=True)), rates, day)})
    return _ranked(rows)



def executive_one_pager(ledger: Ledger, kpis: Kpis, company, recipients, buckets: list[int]) -> OnePager:
    """The one-pager as the executive report needs it: the rates source and reporting currency of the report
    recipients block (default: the company's default currency), the previous period's KPIs for the trend."""
    exchange = exchange_rates(ledger.exchange_rates, recipients.exchange_rates_file,
                              recipients.reporting_currency or company.default_currency)
    previous = compute_kpis(ledger, previous_period(kpis.period), buckets, recipients.top_customers)
    return one_pager(ledger, kpis, previous, exchange, recipients)


def company_headline(page: OnePager, locale: str) -> str:
    """The one-pager's figures as the executives' email opens with them, each with its target and red or green."""
    parts = []
    for h in page.headlines:
        figure = company_figure(h.now, h.unit, page.reporting_currency, locale)
        judged = {"green": ", on target", "red": ", off target"}.get(h.status, "")
        parts.append(f"{h.label} {figure}{judged}")
    notes = sorted({h.now.unknown_reason for h in page.headlines if h.now.unknown})
    return f"Company-wide in {page.reporting_currency}: " + "; ".join(parts) + "." + \
        "".join(f" Unknown: {n}." for n in notes)
