"""Invoices, payments, credit notes and allocations over the history, with the planted sloppy ledger rows."""

from __future__ import annotations

import numpy as np

from sandbox.sample_erp.parties import Customers
from sandbox.sample_erp.values import (
    Table,
    currency_unit,
    flag_rows,
    from_usd,
    in_units,
    iso_dates,
    iso_timestamps,
    numbered,
    pick_rows,
    random_seconds,
)
from sandbox.sample_erp.world import (
    CREDIT_NOTE_RATE,
    CREDIT_NOTE_REASONS,
    DISPUTE_RATE,
    FULL_CREDIT_SHARE,
    HISTORY_DAYS,
    METHOD_SHARE,
    PAYMENT_METHODS,
    PROMISE_RATE,
    VOID_RATE,
    dispute_reason,
)


def make_ledger(rng: np.random.Generator, customers: Customers, count: int, as_of_day: int,
            orphans: int) -> dict[str, Table]:
    """Invoices and how they were settled by as_of: credit notes, payments (partial, batched), allocations;
    plus `orphans` payments allocated to invoice numbers that do not exist."""
    cust = rng.choice(customers.count, count, p=customers.activity)
    doc_day = np.sort(as_of_day - rng.integers(1, HISTORY_DAYS + 1, count))
    due_day = doc_day + customers.table["terms_days"][cust]
    currency = customers.currency[cust]
    unit = currency_unit(currency)
    total = from_usd(np.clip(np.exp(rng.normal(np.log(1800), 1.0, count)) * customers.size[cust], 40, 250_000),
                      currency)

    picked = pick_rows(rng, count, {"void": round(VOID_RATE * count), "credit_note": round(CREDIT_NOTE_RATE * count)})
    void = flag_rows(count, picked["void"]) == 1
    credited = picked["credit_note"]
    partly = np.maximum(in_units(total[credited] * rng.uniform(0.05, 0.3, credited.size), unit[credited]),
                        unit[credited])
    credit = np.where(rng.random(credited.size) < FULL_CREDIT_SHARE, total[credited], partly)
    credit_day = np.minimum(doc_day[credited] + rng.integers(1, 31, credited.size), as_of_day - 1)
    remaining = total.copy()
    remaining[credited] -= credit

    autopay = customers.autopay[cust]
    delay = np.rint(rng.normal(customers.mean_delay[cust], customers.spread[cust])).astype(np.int64)
    pay_day = np.where(autopay, due_day, np.maximum(due_day + delay, doc_day + 1))
    pay_day[credited] = np.maximum(pay_day[credited], credit_day)
    batch = customers.batch_payer[cust] & ~autopay
    pay_day = np.where(batch, pay_day + (4 - (pay_day + 3) % 7) % 7, pay_day)  # to Friday; 1970-01-01 was a Thursday
    never = (rng.random(count) < customers.never_share[cust]) & ~autopay
    paying = ~void & (remaining > 0) & (pay_day < as_of_day) & ~never
    partial = paying & ~autopay & (remaining > unit) & (rng.random(count) < customers.partial_share[cust])
    part = np.clip(in_units(remaining * rng.uniform(0.2, 0.8, count), unit), unit, np.maximum(remaining - unit, unit))
    paid = np.where(partial, part, remaining) * paying
    balance = np.where(void, 0, remaining - paid)

    # one payment per paid invoice, except that a batch payer settles a Friday's invoices in one payment
    settled = np.flatnonzero(paying)
    solo = np.where(batch[settled] & ~partial[settled], -1, settled)
    order = np.lexsort((solo, cust[settled], pay_day[settled]))
    settled, solo = settled[order], solo[order]
    key = np.stack((pay_day[settled], cust[settled], solo))
    new_payment = np.r_[True, (key[:, 1:] != key[:, :-1]).any(axis=0)][: settled.size]  # where the key changes
    payment_of = np.cumsum(new_payment) - 1  # payment index of each settled invoice
    regular = int(new_payment.sum())
    payer = np.concatenate((cust[settled][new_payment], rng.integers(0, customers.count, orphans)))
    received = np.concatenate((pay_day[settled][new_payment], as_of_day - rng.integers(1, HISTORY_DAYS + 1, orphans)))
    amount = np.concatenate((np.rint(np.bincount(payment_of, paid[settled], regular)).astype(np.int64),
                             from_usd(rng.uniform(50, 5000, orphans), customers.currency[payer[regular:]])))
    received_at = random_seconds(rng, received)
    method = np.where(customers.autopay[payer], rng.choice(("ach", "card"), payer.size),
                      rng.choice(PAYMENT_METHODS, payer.size, p=METHOD_SHARE))

    cn_order = np.argsort(credit_day, kind="stable")
    credited, credit, credit_day = credited[cn_order], credit[cn_order], credit_day[cn_order]
    credited_at = random_seconds(rng, credit_day)
    cn_no = numbered("CN-", np.arange(1, credited.size + 1), 6)

    changed_at = random_seconds(rng, doc_day)
    voided_at = random_seconds(rng, np.minimum(doc_day + rng.integers(1, 31, count), as_of_day - 1))
    changed_at = np.where(void, np.maximum(changed_at, voided_at), changed_at)
    changed_at[credited] = np.maximum(changed_at[credited], credited_at)
    changed_at[settled] = np.maximum(changed_at[settled], received_at[payment_of])
    open_rows = np.flatnonzero(balance > 0)
    flagged = pick_rows(rng, open_rows, {"disputed": round(DISPUTE_RATE * open_rows.size),
                                     "promised": round(PROMISE_RATE * open_rows.size)})
    for rows in flagged.values():  # recorded in the last two weeks
        changed_at[rows] = np.maximum(changed_at[rows], random_seconds(rng, as_of_day - rng.integers(1, 15, rows.size)))
    ptp_date = np.full(count, None, dtype=object)
    ptp_date[flagged["promised"]] = iso_dates(as_of_day + rng.integers(1, 22, flagged["promised"].size))

    doc_no = numbered("INV-", np.arange(1_000_001, 1_000_001 + count), 7)
    dispute_code, dispute_note = np.full(count, None, dtype=object), np.full(count, None, dtype=object)
    for row in flagged["disputed"]:
        dispute_code[row], dispute_note[row] = dispute_reason(doc_no[row])
    cust_no = customers.table["cust_no"]
    pay_order = np.argsort(received, kind="stable")
    pay_no = np.empty(received.size, dtype=object)
    pay_no[pay_order] = numbered("PAY-", np.arange(1, received.size + 1), 7)
    alloc_kind = np.repeat(["credit_note", "payment", "payment"], [credited.size, settled.size, orphans])
    alloc_ref = np.concatenate((cn_no, pay_no[payment_of], pay_no[regular:]))
    alloc_invoice = np.concatenate((doc_no[credited], doc_no[settled], numbered("INV-", np.arange(1, orphans + 1), 7)))
    alloc_amount = np.concatenate((credit, paid[settled], amount[regular:]))
    alloc_at = np.concatenate((credited_at, received_at[payment_of], received_at[regular:]))
    alloc_order = np.argsort(alloc_at, kind="stable")
    return {
        "invoice": {
            "doc_no": doc_no, "cust_no": cust_no[cust], "doc_date": iso_dates(doc_day),
            "due_date": iso_dates(due_day), "currency": currency, "total": (total / 100).astype(object),
            "balance": balance / 100, "status": np.where(void, "void", np.where(balance == 0, "paid", "open")),
            "disputed": flag_rows(count, flagged["disputed"]), "ptp_date": ptp_date,
            "dispute_code": dispute_code, "dispute_note": dispute_note,
            "updated_at": iso_timestamps(changed_at),
        },
        "payment": {
            "pay_no": pay_no[pay_order], "cust_no": cust_no[payer[pay_order]],
            "received_on": iso_dates(received[pay_order]), "currency": customers.currency[payer[pay_order]],
            "amount": amount[pay_order] / 100, "method": method[pay_order],
            "updated_at": iso_timestamps(received_at[pay_order]),
        },
        "credit_note": {
            "cn_no": cn_no, "cust_no": cust_no[cust[credited]], "doc_date": iso_dates(credit_day),
            "currency": currency[credited], "amount": credit / 100,
            "reason": rng.choice(CREDIT_NOTE_REASONS, credited.size), "updated_at": iso_timestamps(credited_at),
        },
        "allocation": {
            "alloc_id": np.arange(1, alloc_order.size + 1), "doc_kind": alloc_kind[alloc_order],
            "doc_ref": alloc_ref[alloc_order], "invoice_doc_no": alloc_invoice[alloc_order],
            "amount": alloc_amount[alloc_order] / 100, "updated_at": iso_timestamps(alloc_at[alloc_order]),
        },
    }


def spoil_invoices(rng: np.random.Generator, invoice: Table, counts: dict[str, int]) -> None:
    """Write the sloppy rows a legacy ERP lets through: exactly `counts[kind]` distinct invoices per kind."""
    rows = pick_rows(rng, len(invoice["doc_no"]), counts)
    early = rows["due_before_doc"]
    doc_day = invoice["doc_date"][early].astype("datetime64[D]").astype(np.int64)
    invoice["due_date"][early] = iso_dates(doc_day - rng.integers(1, 31, early.size))
    impossible = rows["impossible_date"]
    month_day = np.resize(["02-30", "04-31", "06-31", "11-31"], impossible.size)
    invoice["doc_date"][impossible] = np.strings.add(np.strings.add(
        np.strings.slice(invoice["doc_date"][impossible], 0, 4), "-"), month_day)
    invoice["total"][rows["negative_total"]] *= -1
    invoice["total"][rows["non_numeric_total"]] = "n/a"
    invoice["currency"][rows["unknown_currency"]] = np.resize(["XXX", "EURO"], rows["unknown_currency"].size)


# --- day-to-day activity -----------------------------------------------------------------------------------
