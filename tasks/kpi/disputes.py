"""Open disputes by age and reason: the compact table the reports show beside the list of disputed invoices.

Rows are the disputes' reason codes (a dispute without one is "no reason given"), columns the days each has been
open at the period end in bands that start at the escalation policy's level days (0-9, 10-29 and 30+ days with
the example policy, or when no policy is given), how many had gone up at least one escalation level, and the
open amount per currency: amounts in different currencies are listed side by side, never added.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

DISPUTE_AGE_BANDS = (10, 30)  # days open where a band starts after 0: the example escalation policy's levels
NO_REASON = "no reason given"


def age_band_labels(bands: tuple[int, ...]) -> list[str]:
    """(10, 30) -> ["0–9 days", "10–29 days", "30+ days"]."""
    edges = [0, *bands]
    return [f"{a}–{b - 1} days" for a, b in zip(edges, edges[1:])] + [f"{edges[-1]}+ days"]


def dispute_bands(level_days: list[int]) -> tuple[int, ...]:
    """The bands of an escalation policy's level days (rising), or the fixed ones when it has none."""
    return tuple(sorted(set(level_days))) or DISPUTE_AGE_BANDS


def disputes_by_age_and_reason(disputes: pd.DataFrame, bands: tuple[int, ...] = DISPUTE_AGE_BANDS) -> list[dict]:
    """One row per reason code, most disputes first, then an "all reasons" row when there is more than one:
    reason, reason_texts (the distinct words given), disputes, by_age (a count per band of ``bands``), escalated
    (level 1 or more at the period end), escalation_unknown (raised since from level 2 or more: the level at the
    end is unknown), amounts ([(currency, open cents)], sorted by currency).

    ``disputes``: the invoices disputed at the period end (Kpis.disputes): currency, open_cents, days_open,
    reason_code, reason_text, level (None: unknown at the period end)."""
    if disputes.empty:
        return []
    code = disputes["reason_code"].astype(object)
    frame = disputes.assign(
        reason=code.where(code.notna() & (code.astype(str).str.strip() != ""), NO_REASON).astype(str),
        band=np.searchsorted(np.array(bands), disputes["days_open"].to_numpy(np.int64), "right"))
    rows = [_row(reason, group, len(bands) + 1) for reason, group in frame.groupby("reason", sort=False)]
    rows.sort(key=lambda r: (-r["disputes"], r["reason"] == NO_REASON, r["reason"]))
    if len(rows) > 1:
        rows.append(_row("all reasons", frame, len(bands) + 1) | {"total": True})
    return rows


def _row(reason: str, group: pd.DataFrame, bands: int) -> dict:
    level = group["level"]
    texts = [t for t in dict.fromkeys(group["reason_text"]) if isinstance(t, str) and t.strip()]
    amounts = group.groupby("currency")["open_cents"].sum()
    return {"reason": reason, "reason_texts": texts, "disputes": len(group), "total": False,
            "by_age": [int((group["band"] == k).sum()) for k in range(bands)],
            "escalated": int((level.notna() & (pd.to_numeric(level, errors="coerce") >= 1)).sum()),
            "escalation_unknown": int(level.isna().sum()),
            "amounts": [(str(c), int(v)) for c, v in amounts.sort_index().items()]}
