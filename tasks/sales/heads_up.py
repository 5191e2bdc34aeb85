"""Which accounts' sales reps are asked today, and what a decision means: pure rules, tested with a fixed clock.

An account (customer and currency) is asked when its oldest invoice that is not held back (disputed, promised,
with autopay, or on a sales hold: tasks/dunning/plan.py hold_reasons) will reach a step whose tone is final
within the escalation policy's sales_heads_up_days, has not reached it yet, and its rep has not been asked about
that step and day. Customers dunning never writes to (stopped, internal, capped below the final tone) are not
asked: there is no final notice to discuss.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from blocks.dunning_policy import DunningPolicy
from tasks.dunning.plan import hold_reasons

CHOICES: tuple[str, ...] = ("proceed", "hold", "soften")
ASK_COLUMNS = ["customer_id", "currency", "step", "final_on", "sales_rep", "customer_name"]


def accounts_to_ask(invoices: pd.DataFrame, customers: pd.DataFrame, asked: set[tuple[str, str, int, date]],
                    policy: DunningPolicy, heads_up_days: int, today: date) -> pd.DataFrame:
    """The accounts to ask about today (ASK_COLUMNS), one row per account and final step.

    invoices: open invoices as sql/dunning/open_invoices.sql gives them, with days_past_due. customers:
    customer_id, name, sales_rep, dunning_stopped, internal. asked: (customer, currency, step, final_on) already
    in final_notice_reviews."""
    finals = np.array(sorted(s.offset for s in policy.steps if s.tone == "final"))
    if invoices.empty or not len(finals):
        return pd.DataFrame(columns=ASK_COLUMNS)
    live = invoices[hold_reasons(invoices, today, policy.autopay_settle_days) == ""]
    oldest = live.groupby(["customer_id", "currency"])["days_past_due"].max()
    following = np.searchsorted(finals, oldest.to_numpy(np.int64), side="right")  # the next final step not reached
    steps = finals[np.minimum(following, len(finals) - 1)]
    near = (following < len(finals)) & (steps - oldest.to_numpy(np.int64) <= heads_up_days)
    info = customers.set_index("customer_id")
    rows = []
    for (customer_id, currency), days, step in zip(oldest.index[near], oldest.to_numpy()[near], steps[near],
                                                   strict=True):
        step = int(step)
        final_on = today + timedelta(days=int(step - days))
        customer = info.loc[customer_id]
        override = policy.overrides.get(customer_id)
        if (customer_id, currency, step, final_on) in asked or bool(customer["dunning_stopped"]) or \
                bool(customer["internal"]) or (override and (override.stop or override.tone not in (None, "final"))):
            continue
        rep = customer["sales_rep"] if isinstance(customer["sales_rep"], str) else None  # not NaN: no rep
        rows.append((customer_id, currency, step, final_on, rep, customer["name"]))
    return pd.DataFrame(rows, columns=ASK_COLUMNS, dtype=object)  # None stays None (no rep), never NaN


def hold_until(decided_on: date, hold_days: int) -> date:
    """The last day a hold keeps the account's reminders back: the decision's day plus the policy's days."""
    return decided_on + timedelta(days=hold_days)


def refusal(choice: str, decided_by: str, reason: str) -> str | None:
    """Why a decision cannot be recorded, or None: every override says who and why."""
    if choice not in CHOICES:
        return f"{choice!r} is not one of {', '.join(CHOICES)}"
    if not decided_by.strip():
        return "a decision needs the name of who made it"
    if choice != "proceed" and not reason.strip():
        return f"'{choice}' needs a reason"
    return None
