"""A customer's credit signals over the review months, from the ledger as the KPI reports read it (tasks/kpi/ledger.py)
and the autopay charges. Pure and vectorised: one pass per signal over every customer at once.

Amount-weighted signals (days beyond terms and its trend, the late share, utilisation) are computed in the currency
of the customer's credit limit only: amounts in two currencies are never weighed against each other.
  days_beyond_terms  payments received in the review months, weighted by amount: days after the invoice's due date
                     (0 for a payment on or before it)
  dbt_trend          the same over the last TREND_MONTHS months less over the months before them
  late_share         percent of that amount received more than the policy's late_grace_days after the due date
  utilisation        open AR today / the credit limit, percent
  peak_utilisation   the highest month-end balance of the review months (and today's) / the credit limit, percent
  disputes           disputes a sync first saw in the review months, any currency
  broken_promises    promises to pay judged broken in the review months, any currency
  failed_charges     autopay charges that failed in the review months, any currency
  account_months     whole months from the customer's first invoice to the review day
  add                average days delinquent, as the KPI reports define it: past-due AR today / net sales (invoices
                     less credit notes) of the last 90 days x 90; 0 when nothing is past due
  sales_volume       invoiced in the review months (currency units)
No payment in the review months, or none on one side of the trend, or no credit limit: that signal is unknown,
with the reason.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd
from dateutil.relativedelta import relativedelta

from tasks.credit.scorecard import Signals
from tasks.kpi.ledger import Ledger

TREND_MONTHS = 3
NO_PAYMENTS = "no payment received in the review months"
NO_LIMIT = "no credit limit on file"
ZERO_LIMIT = "a credit limit of 0 (no credit): no share of it to measure"


def credit_signals(ledger: Ledger, customers: pd.DataFrame, charges: pd.DataFrame, as_of: date,
                   months: int = 12, late_grace_days: int = 0) -> list[Signals]:
    """customers: customer_id, currency (the credit limit's), credit_limit_cents (None: no limit);
    charges: customer_id, charge_day, status. late_grace_days: a payment this late or less is not late for the
    late share (the days a transfer takes); days beyond terms still count every day."""
    start, recent = pd.Timestamp(as_of - relativedelta(months=months)), pd.Timestamp(
        as_of - relativedelta(months=TREND_MONTHS))
    end = pd.Timestamp(as_of)
    inv = ledger.invoices.merge(customers[["customer_id", "currency"]], on=["customer_id", "currency"])
    paid = ledger.settlements[(ledger.settlements["kind"] == "payment") & (ledger.settlements["settled_on"] > start)
                              & (ledger.settlements["settled_on"] <= end)].merge(
        inv[["invoice_number", "customer_id", "due_date"]], on="invoice_number")
    paid = paid.assign(late=(paid["settled_on"] - paid["due_date"]).dt.days.clip(lower=0),
                       recent=paid["settled_on"] > recent)
    overall, last, before = (_weighted_days(paid), _weighted_days(paid[paid["recent"]]),
                             _weighted_days(paid[~paid["recent"]]))
    late_cents = paid[paid["late"] > late_grace_days].groupby("customer_id")["amount_cents"].sum().to_dict()
    paid_cents = paid.groupby("customer_id")["amount_cents"].sum().to_dict()
    open_now = inv.groupby("customer_id")["open_cents"].sum().to_dict()
    peak = _peak_balance(inv, ledger.settlements, start, end).to_dict()
    disputes = _count(ledger.disputes.merge(ledger.invoices[["invoice_number", "customer_id"]], on="invoice_number"),
                      "opened_on", start, end).to_dict()
    broken = _count(ledger.promises[ledger.promises["status"] == "broken"], "resolved_on", start, end).to_dict()
    failed = _count(charges[charges["status"] == "failed"].assign(
        charge_day=pd.to_datetime(charges["charge_day"], format="ISO8601")), "charge_day", start, end).to_dict()
    issued = inv[(inv["issue_date"] > start) & (inv["issue_date"] <= end)].groupby("customer_id")["amount_cents"].sum()
    add, add_why = _days_delinquent(inv, ledger.credit_notes.merge(customers[["customer_id", "currency"]],
                                                                   on=["customer_id", "currency"]), end)
    first = ledger.invoices.groupby("customer_id")["issue_date"].min()
    months_old = ((as_of.year - first.dt.year) * 12 + as_of.month - first.dt.month
                  - (first.dt.day > as_of.day).astype(int)).clip(lower=0).to_dict()
    found = []
    for row in customers.itertuples(index=False):
        c, limit = row.customer_id, (None if pd.isna(row.credit_limit_cents) else int(row.credit_limit_cents))
        values: dict[str, Decimal | None] = {
            "days_beyond_terms": overall.get(c), "late_share": _percent(late_cents.get(c, 0), paid_cents.get(c)),
            "dbt_trend": (last[c] - before[c]) if c in last and c in before else None,
            "utilisation": _percent(open_now.get(c, 0), limit), "peak_utilisation": _percent(peak.get(c, 0), limit),
            "disputes": Decimal(int(disputes.get(c, 0))), "broken_promises": Decimal(int(broken.get(c, 0))),
            "failed_charges": Decimal(int(failed.get(c, 0))),
            "account_months": Decimal(int(months_old.get(c, 0))), "add": add.get(c, Decimal("0.0")),
            "sales_volume": Decimal(int(issued.get(c, 0))).scaleb(-2)}
        why = {s: NO_PAYMENTS for s in ("days_beyond_terms", "late_share") if values[s] is None}
        if values["dbt_trend"] is None:
            why["dbt_trend"] = (NO_PAYMENTS if c not in overall else
                                f"payments on only one side of the last {TREND_MONTHS} months")
        if c in add_why:
            why["add"] = add_why[c]
        why |= {s: NO_LIMIT if limit is None else ZERO_LIMIT for s in ("utilisation", "peak_utilisation")
                if values[s] is None}
        found.append(Signals(c, row.currency, limit, values, why))
    return found


def _days_delinquent(inv: pd.DataFrame, notes: pd.DataFrame, end: pd.Timestamp) -> tuple[dict, dict[str, str]]:
    """ADD per customer (values; None where something is past due but nothing was sold to measure it against)."""
    since = end - pd.Timedelta(days=90)
    sold = inv[(inv["issue_date"] > since) & (inv["issue_date"] <= end)].groupby("customer_id")["amount_cents"].sum()
    noted = pd.to_datetime(notes["issue_date"], format="ISO8601")
    credited = notes[(noted > since) & (noted <= end)].groupby("customer_id")["amount_cents"].sum()
    net = sold.sub(credited, fill_value=0)
    late = inv[(inv["status"] == "open") & (inv["due_date"] < end)].groupby("customer_id")["open_cents"].sum()
    values, why = {}, {}
    for c, cents in late[late > 0].items():
        if net.get(c, 0) > 0:
            values[c] = (Decimal(int(cents)) * 90 / Decimal(int(net[c]))).quantize(Decimal("0.1"), ROUND_HALF_UP)
        else:
            values[c], why[c] = None, "past due, with no net sales in the last 90 days to measure it against"
    return values, why


def _weighted_days(paid: pd.DataFrame) -> dict[str, Decimal]:
    weight = paid.assign(days_cents=paid["late"] * paid["amount_cents"]).groupby("customer_id")[
        ["days_cents", "amount_cents"]].sum()
    weight = weight[weight["amount_cents"] > 0]
    tenth = Decimal("0.1")
    return {c: (Decimal(int(d)) / Decimal(int(a))).quantize(tenth, ROUND_HALF_UP)
            for c, d, a in zip(weight.index, weight["days_cents"], weight["amount_cents"], strict=True)}


def _percent(part: int, whole: int | None) -> Decimal | None:
    if not whole or pd.isna(whole) or whole <= 0:
        return None
    return (Decimal(int(part)) * 100 / Decimal(int(whole))).quantize(Decimal("0.1"), ROUND_HALF_UP)


def _peak_balance(inv: pd.DataFrame, settlements: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """The highest balance per customer at each month end of the window and at its end, rebuilt as the KPI
    balances are: an invoice issued by then owes its open amount today plus what was settled after then."""
    days = list(pd.date_range(start, end, freq="ME")) + [end]
    settled = settlements.merge(inv[["invoice_number", "customer_id", "issue_date"]], on="invoice_number")
    owed_at = []
    for day in days:
        owed = inv[inv["issue_date"] <= day].groupby("customer_id")["open_cents"].sum()
        later = settled[(settled["issue_date"] <= day) & (settled["settled_on"] > day)]
        owed_at.append(owed.add(later.groupby("customer_id")["amount_cents"].sum(), fill_value=0))
    return pd.concat(owed_at).groupby(level=0).max()


def _count(frame: pd.DataFrame, column: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    within = frame[(frame[column] > start) & (frame[column] <= end)]
    return within.groupby("customer_id").size()
