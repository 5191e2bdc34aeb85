"""Aging: how late each open invoice is, by the company's calendar, in which bucket, per customer and currency.

Days past due = today (company time zone) - due date; an invoice due today is not due yet. Amounts stay in
integer cents per currency: no total ever adds two currencies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

NOT_DUE = "not_due"
AGED_COLUMNS = ["invoice_number", "customer_id", "currency", "due_date", "open_cents", "days_past_due", "bucket"]


def bucket_labels(bounds: list[int]) -> list[str]:
    """[30, 60, 90] -> not_due, 1-30, 31-60, 61-90, 90+."""
    lows = [1] + [b + 1 for b in bounds[:-1]]
    return [NOT_DUE] + [f"{lo}-{hi}" for lo, hi in zip(lows, bounds, strict=True)] + [f"{bounds[-1]}+"]


def days_past_due(due_dates: pd.Series, today: date) -> np.ndarray:
    due = pd.to_datetime(due_dates, format="ISO8601").to_numpy(dtype="datetime64[D]")
    return (np.datetime64(today, "D") - due).astype(np.int64)


def bucket_of(days: np.ndarray, bounds: list[int]) -> np.ndarray:
    """Bucket label per days-past-due value: 0 and below is not due, bounds are inclusive upper limits."""
    labels = np.array(bucket_labels(bounds), dtype=object)
    index = np.where(days <= 0, 0, 1 + np.searchsorted(np.array(bounds), days, side="left"))
    return labels[index]


def age_invoices(invoices: pd.DataFrame, today: date, bounds: list[int]) -> pd.DataFrame:
    """Open invoices with their days past due and bucket (columns AGED_COLUMNS)."""
    aged = invoices.loc[:, ["invoice_number", "customer_id", "currency", "due_date", "open_cents"]].copy()
    aged["open_cents"] = aged["open_cents"].to_numpy(dtype=np.int64)
    aged["days_past_due"] = days_past_due(aged["due_date"], today) if len(aged) else np.zeros(0, np.int64)
    aged["bucket"] = bucket_of(aged["days_past_due"].to_numpy(), bounds)
    return aged.reset_index(drop=True)


@dataclass
class AgingSummary:
    """Per currency and bucket: invoices, customers and amount; with the open AR it must add up to."""

    rows: pd.DataFrame  # currency, bucket, invoices, customers, open_cents (every bucket, zero rows included)
    open_ar: dict[str, int]  # currency -> open AR in cents, summed directly from the invoices

    @property
    def reconciles(self) -> bool:
        """The buckets of each currency add up to its open AR to the cent."""
        sums = self.rows.groupby("currency")["open_cents"].sum()
        return all(int(sums.get(c, 0)) == cents for c, cents in self.open_ar.items()) and set(sums.index) <= set(
            self.open_ar)


def aging_summary(aged: pd.DataFrame, bounds: list[int]) -> AgingSummary:
    labels = bucket_labels(bounds)
    currencies = sorted(aged["currency"].unique()) if len(aged) else []
    grid = pd.MultiIndex.from_product([currencies, labels], names=["currency", "bucket"])
    grouped = aged.groupby(["currency", "bucket"]).agg(
        invoices=("invoice_number", "size"), customers=("customer_id", "nunique"), open_cents=("open_cents", "sum"))
    rows = grouped.reindex(grid, fill_value=0).astype("int64").reset_index()
    open_ar = {str(c): int(v) for c, v in aged.groupby("currency")["open_cents"].sum().items()}
    return AgingSummary(rows, open_ar)
