"""Promises to pay kept and broken in a period, from the promise records (sql/warehouse/V009__promises.sql).

A promise counts in the period its outcome was decided (resolved_on): kept when the customer paid the amount by
the promised date plus the escalation policy's grace, broken when not, as the nightly's promise review judged it
and told the customer. Amounts are what was promised, per currency. A promise is open at the period end when it
was recorded by then and not decided by then (a cancelled one counts as open until the day it was cancelled).
Promises are known from the first day one was recorded: a period that starts earlier has outcomes that were
never recorded, so its figures are unknown, not 0.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from tasks.kpi.ledger import Period, as_day

BROKEN_COLUMNS = ["promise_id", "customer_id", "name", "currency", "amount_cents", "promised_for", "taken_by",
                  "resolved_on"]


def promises_unknown(known_from: date | None, period: Period) -> str | None:
    """Why the promises kept and broken in ``period`` are unknown, or None (``known_from``: Ledger's)."""
    if known_from is None or known_from <= period.start:
        return None
    if known_from == date.max:
        return ("invoices carry promises to pay, but none has been recorded yet (the nightly records and judges "
                "them when it is given an escalation policy)")
    return f"promises to pay are recorded from {known_from:%Y-%m-%d}, after the start of the period"


def _decided_in(promises: pd.DataFrame, period: Period, status: str) -> pd.DataFrame:
    return promises[(promises["status"] == status)
                    & promises["resolved_on"].between(as_day(period.start), as_day(period.end))]


def promise_outcomes(promises: pd.DataFrame, period: Period) -> dict[str, dict[str, int]]:
    """Per currency: promises_kept, promises_broken (decided in the period) and promises_open (at its end), each
    with its amount promised (``..._cents``)."""
    end = as_day(period.end)
    still_open = promises[(promises["recorded_on"] <= end)
                          & (promises["resolved_on"].isna() | (promises["resolved_on"] > end))]
    groups = {"promises_kept": _decided_in(promises, period, "kept"),
              "promises_broken": _decided_in(promises, period, "broken"), "promises_open": still_open}
    outcomes: dict[str, dict[str, int]] = {}
    for name, frame in groups.items():
        for currency, amounts in frame.groupby("currency")["amount_cents"]:
            figures = outcomes.setdefault(str(currency), {f"{n}{s}": 0 for n in groups for s in ("", "_cents")})
            figures[name], figures[f"{name}_cents"] = len(amounts), int(amounts.sum())
    return outcomes


def broken_promises(promises: pd.DataFrame, customers: pd.DataFrame, period: Period) -> pd.DataFrame:
    """The promises judged broken in the period, with the customer's name: latest promised date first."""
    broken = _decided_in(promises, period, "broken").merge(customers[["customer_id", "name"]], on="customer_id",
                                                           how="left")
    return broken.sort_values(["promised_for", "customer_id"], ascending=[False, True])[BROKEN_COLUMNS] \
        .reset_index(drop=True)
