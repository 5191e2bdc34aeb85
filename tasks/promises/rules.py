"""The rules of a promise to pay, as pure functions over frames (nothing here reads a database or sends).

- The ledger gives one promise per customer, currency and promised date: the open invoices carrying that date,
  for what is open on them.
- A promise holds dunning through its date plus the grace (``hold_until``).
- Kept: the customer's payments in the promise's currency, received from the day it was recorded up to its
  hold_until, add up to its amount; a promise kept early is kept at once.
- Broken: hold_until has passed and it is not kept.
- The sales rep is told when a customer has broken ``broken_promises_for_sales`` promises within the window.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from tasks import warehouse as wh

LEDGER = "ledger"
SOURCES = ("ledger", "portal", "sms", "phone", "collector")
OPEN, KEPT, BROKEN = "open", "kept", "broken"
ANNOUNCE_DAYS = 14  # outcomes decided longer ago are not announced (a first review after an upgrade)


def ledger_promise_id(customer_id: str, currency: str, promised_for: date) -> str:
    return f"{LEDGER}|{customer_id}|{currency}|{promised_for.isoformat()}"


def ledger_promises(invoices: pd.DataFrame, grace_days: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The promises the ledger's invoices give (promise_id, customer_id, currency, amount_cents, promised_for,
    hold_until) and what each covers (promise_id, invoice_number, open_cents).

    invoices: sql/promises/ledger_promises.sql."""
    columns = ["promise_id", "customer_id", "currency", "amount_cents", "promised_for", "hold_until"]
    if invoices.empty:
        return pd.DataFrame(columns=columns), pd.DataFrame(columns=["promise_id", "invoice_number", "open_cents"])
    work = invoices.assign(promised_for=[wh.to_date(d) for d in invoices["promise_to_pay_date"]])
    work["promise_id"] = [ledger_promise_id(c, cur, d) for c, cur, d in
                          zip(work["customer_id"], work["currency"], work["promised_for"], strict=True)]
    work["open_cents"] = work["open_cents"].astype("int64")
    promises = work.groupby(["promise_id", "customer_id", "currency", "promised_for"], as_index=False, sort=True)[
        "open_cents"].sum().rename(columns={"open_cents": "amount_cents"})
    promises["hold_until"] = [d + timedelta(days=grace_days) for d in promises["promised_for"]]
    return promises[columns], work[["promise_id", "invoice_number", "open_cents"]].reset_index(drop=True)


def judge_promises(promises: pd.DataFrame, payments: pd.DataFrame, today: date) -> pd.DataFrame:
    """Each open promise's state tonight: promise_id, status (open | kept | broken), paid_cents.

    promises: promise_id, customer_id, currency, amount_cents, hold_until, recorded_on.
    payments: customer_id, currency, received_on, amount_cents."""
    paid_by: dict[tuple[str, str], list[tuple[date, int]]] = {}
    for customer, currency, received, cents in zip(payments["customer_id"], payments["currency"],
                                                   payments["received_on"], payments["amount_cents"], strict=True):
        paid_by.setdefault((customer, currency), []).append((wh.to_date(received), int(cents)))
    rows = []
    for p in promises.itertuples(index=False):
        start, end = wh.to_date(p.recorded_on), wh.to_date(p.hold_until)
        paid = sum(c for d, c in paid_by.get((p.customer_id, p.currency), []) if start <= d <= end)
        status = KEPT if paid >= int(p.amount_cents) else BROKEN if end < today else OPEN
        rows.append((p.promise_id, status, paid))
    return pd.DataFrame(rows, columns=["promise_id", "status", "paid_cents"])


def sales_heads_up(broken: pd.DataFrame, threshold: int) -> pd.DataFrame:
    """The broken promises the sales rep is told of: per customer with at least ``threshold`` broken within the
    window (broken_in_window), the latest one (a later broken promise tells the rep again, a rerun does not).

    broken: promises broken lately with customer_id, promised_for, promise_id, broken_in_window."""
    due = broken[broken["broken_in_window"].astype("int64") >= threshold]
    latest = due.sort_values(["customer_id", "promised_for", "promise_id"]).groupby("customer_id").tail(1)
    return latest.reset_index(drop=True)


def broken_event(promise: dict) -> dict:
    """The arpilot.promise.broken event (keyword arguments of prefect.events.emit_event): the promise is the
    resource; the customer, its collector and its sales rep are related, so an automation can pick any of them."""
    related = [{"prefect.resource.id": f"arpilot.customer.{promise['customer_id']}",
                "prefect.resource.role": "customer", "prefect.resource.name": str(promise["customer_name"])}]
    for role in ("collector", "sales_rep"):
        if promise.get(role):
            related.append({"prefect.resource.id": f"arpilot.{role.replace('_', '-')}.{promise[role]}",
                            "prefect.resource.role": role.replace("_", "-"),
                            "prefect.resource.name": str(promise[role])})
    return {
        "event": "arpilot.promise.broken",
        "resource": {"prefect.resource.id": f"arpilot.promise.{promise['promise_id']}",
                     "prefect.resource.name": f"{promise['customer_id']} {promise['currency']} "
                                              f"{wh.to_date(promise['promised_for']).isoformat()}"},
        "related": related,
        "payload": {"customer_id": promise["customer_id"], "currency": promise["currency"],
                    "amount_cents": int(promise["amount_cents"]), "paid_cents": int(promise["paid_cents"] or 0),
                    "promised_for": wh.to_date(promise["promised_for"]).isoformat(), "source": promise["source"],
                    "taken_by": promise["taken_by"], "broken_in_window": int(promise["broken_in_window"])},
    }
