"""A deterministic sample ERP: a SQLite file shaped like a legacy ERP's accounts-receivable tables.

arpilot's sync, contact gate, aging and dunning need books to run against in demos, tests and benchmarks,
from 10 to 1,000,000 invoices, with the mess real books carry: late and partial payers, credit notes,
disputes, promises to pay, bad AP contacts and a few sloppy ledger rows. The same seed and `as_of` always
give the same rows. Every generated timestamp is before midnight starting `as_of`, so a sync run on
`as_of` sees the whole ledger and `touch_invoices` can stamp later changes.

    python -m sandbox.sample_erp --invoices 5000 --seed 7 --out var/demo/erp.sqlite
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from collections.abc import Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
from tqdm import tqdm

from sandbox.sample_erp.documents import make_ledger, spoil_invoices
from sandbox.sample_erp.parties import make_contacts, make_customers
from sandbox.sample_erp.rates import make_exchange_rates
from sandbox.sample_erp.values import Table, from_usd
from sandbox.sample_erp.world import (
    BAD_ROW_KINDS,
    CURRENCIES,
    INSERT_CHUNK,
    METHOD_SHARE,
    PAYMENT_METHODS,
    dispute_reason,
)

SCHEMA = """
CREATE TABLE customer (cust_no TEXT PRIMARY KEY, name TEXT, country TEXT, city TEXT, tz TEXT, currency TEXT,
    terms_days INTEGER, credit_limit NUMERIC, collector TEXT, sales_rep TEXT, autopay INTEGER, credit_hold INTEGER,
    dunning_paused_until TEXT, dunning_stop INTEGER, is_internal INTEGER, updated_at TEXT);
CREATE TABLE contact (contact_id INTEGER PRIMARY KEY, cust_no TEXT, role TEXT, first_name TEXT, last_name TEXT,
    email TEXT, phone TEXT, tz TEXT, verified_on TEXT, bounced_on TEXT, opt_out_email INTEGER, opt_out_sms INTEGER,
    opt_out_voice INTEGER, updated_at TEXT);
CREATE TABLE invoice (doc_no TEXT PRIMARY KEY, cust_no TEXT, doc_date TEXT, due_date TEXT, currency TEXT,
    total NUMERIC, balance NUMERIC, status TEXT, disputed INTEGER, ptp_date TEXT, dispute_code TEXT, dispute_note TEXT, updated_at TEXT);
CREATE TABLE payment (pay_no TEXT PRIMARY KEY, cust_no TEXT, received_on TEXT, currency TEXT, amount NUMERIC,
    method TEXT, updated_at TEXT);
CREATE TABLE credit_note (cn_no TEXT PRIMARY KEY, cust_no TEXT, doc_date TEXT, currency TEXT, amount NUMERIC,
    reason TEXT, updated_at TEXT);
CREATE TABLE allocation (alloc_id INTEGER PRIMARY KEY, doc_kind TEXT, doc_ref TEXT, invoice_doc_no TEXT,
    amount NUMERIC, updated_at TEXT);
CREATE TABLE exchange_rates (rate_date TEXT, currency TEXT, rate TEXT, updated_at TEXT,
    PRIMARY KEY (currency, rate_date));
"""
INDEXES = """
CREATE INDEX ix_customer_updated_at ON customer (updated_at);
CREATE INDEX ix_contact_updated_at ON contact (updated_at);
CREATE INDEX ix_invoice_updated_at ON invoice (updated_at);
CREATE INDEX ix_invoice_cust_no ON invoice (cust_no);
CREATE INDEX ix_payment_updated_at ON payment (updated_at);
CREATE INDEX ix_credit_note_updated_at ON credit_note (updated_at);
CREATE INDEX ix_allocation_updated_at ON allocation (updated_at);
CREATE INDEX ix_allocation_invoice_doc_no ON allocation (invoice_doc_no);
CREATE INDEX ix_exchange_rates_updated_at ON exchange_rates (updated_at);
"""


@dataclass
class GenerationSummary:
    """What `generate` wrote, so callers and tests can check the sync against exact counts."""

    path: Path
    as_of: date
    seed: int
    rows: dict[str, int]  # table -> row count
    bad_rows: dict[str, int]  # BAD_ROW_KINDS -> rows written
    bad_contacts: dict[str, int]  # BAD_CONTACT_KINDS -> customers affected (disjoint)

    def report(self) -> str:
        def counts(values: dict[str, int]) -> str:
            return ", ".join(f"{name} {count:,}" for name, count in values.items())

        return "\n".join((
            f"sample ERP {self.path} (as of {self.as_of}, seed {self.seed})",
            f"  rows: {counts(self.rows)}",
            f"  bad ledger rows ({sum(self.bad_rows.values()):,}): {counts(self.bad_rows)}",
            f"  customers with a bad AP contact ({sum(self.bad_contacts.values()):,}): {counts(self.bad_contacts)}",
        ))


# --- public API --------------------------------------------------------------------------------------------


def generate(path: str | Path, invoices: int, seed: int = 7, as_of: date | None = None, bad_rows: float = 0.002,
             progress: bool = False, customers: int | None = None) -> GenerationSummary:
    """Write a fresh sample ERP with `invoices` invoices to `path` (overwritten) and say what is in it.

    Customers are invoices // 10 unless given (at most one per invoice). `bad_rows` is the fraction of
    invoices written as sloppy ledger rows, split evenly over BAD_ROW_KINDS (the first kinds take the
    remainder).
    """
    if not 10 <= invoices <= 1_000_000:
        raise ValueError(f"invoices must be between 10 and 1,000,000, got {invoices:,}")
    customer_count = max(1, invoices // 10) if customers is None else customers
    if not 1 <= customer_count <= invoices:
        raise ValueError(f"customers must be between 1 and the number of invoices ({invoices:,}), got {customers:,}")
    if not 0 <= bad_rows <= 0.1:
        raise ValueError(f"bad_rows is a fraction of invoices between 0 and 0.1, got {bad_rows}")
    as_of = as_of or date.today()
    as_of_day = (as_of - date(1970, 1, 1)).days
    bad_total = round(bad_rows * invoices)
    bad_counts = {kind: bad_total // len(BAD_ROW_KINDS) + (i < bad_total % len(BAD_ROW_KINDS))
                  for i, kind in enumerate(BAD_ROW_KINDS)}
    rng = np.random.default_rng(seed)
    customers = make_customers(rng, customer_count, as_of_day)
    contacts, bad_contacts = make_contacts(rng, customers, as_of_day)
    ledger = make_ledger(rng, customers, invoices, as_of_day, bad_counts["orphan_allocation"])
    spoil_invoices(rng, ledger["invoice"], {kind: n for kind, n in bad_counts.items() if kind != "orphan_allocation"})
    tables = {"customer": customers.table, "contact": contacts} | ledger \
        | {"exchange_rates": make_exchange_rates(seed, as_of_day)}
    _write(Path(path), tables, progress)
    rows = {name: len(table["updated_at"]) for name, table in tables.items()}
    return GenerationSummary(Path(path), as_of, seed, rows, bad_counts, bad_contacts)


def touch_invoices(path: str | Path, fraction: float, seed: int = 11, now: datetime | None = None) -> int:
    """Simulate a day of ERP activity so an incremental sync has changes to pick up; return invoices changed.

    Changes round(fraction * invoice count) clean open invoices (at least 1 when fraction > 0): most get a
    payment (new payment + allocation rows, balance reduced, 'paid' at zero), the others a dispute raised or
    resolved or a new promise-to-pay date. Every changed or new row gets updated_at = now, which must be later
    than every existing updated_at (default: the current time, or one second after the latest stamp).
    """
    with _touching(path, fraction, "invoice") as (conn, changes):
        if changes:
            _record_activity(conn, changes, np.random.default_rng(seed), _activity_time(conn, now))
    return changes


def issue_invoices(path: str | Path, count: int, seed: int = 17, now: datetime | None = None) -> list[str]:
    """Simulate the ERP issuing ``count`` new open invoices dated today (the customers' terms, a few hundred to a
    few thousand in their currency; rules for ``now`` as in touch_invoices); return their numbers."""
    rng = np.random.default_rng(seed)
    with closing(sqlite3.connect(path)) as conn, conn:
        at = _activity_time(conn, now)
        customers = conn.execute("SELECT cust_no, currency, terms_days FROM customer WHERE is_internal = 0 "
                                 "ORDER BY cust_no").fetchall()
        last = int(conn.execute("SELECT max(doc_no) FROM invoice").fetchone()[0][4:])
        rows = []
        for n, row in enumerate(rng.choice(len(customers), count, replace=False)):
            cust_no, currency, terms = customers[row]
            total = float(from_usd(np.array([rng.uniform(300, 5000)]), np.array([currency]))[0]) / 100
            rows.append((f"INV-{last + n + 1:07d}", cust_no, at.date().isoformat(),
                         (at.date() + timedelta(days=int(terms or 30))).isoformat(), currency, total, total, "open",
                         0, None, None, None, at.strftime("%Y-%m-%d %H:%M:%S")))
        conn.executemany("INSERT INTO invoice VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return [r[0] for r in rows]


def touch_contacts(path: str | Path, fraction: float, seed: int = 13, now: datetime | None = None) -> int:
    """Simulate collectors re-verifying contacts: round(fraction * contact count) contacts get verified_on =
    today and a fresh updated_at (rules for ``now`` as in touch_invoices); return contacts changed."""
    with _touching(path, fraction, "contact") as (conn, changes):
        if changes:
            at = _activity_time(conn, now)
            ids = [r[0] for r in conn.execute("SELECT contact_id FROM contact ORDER BY contact_id")]
            picked = np.random.default_rng(seed).choice(len(ids), changes, replace=False)
            conn.executemany("UPDATE contact SET verified_on = ?, updated_at = ? WHERE contact_id = ?",
                             [(at.date().isoformat(), at.strftime("%Y-%m-%d %H:%M:%S"), ids[i]) for i in picked])
    return changes


@contextmanager
def _touching(path: str | Path, fraction: float, table: str):
    """An open transaction on the sample ERP and how many rows of ``table`` to change (at least 1 if any)."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no sample ERP at {path}")
    with closing(sqlite3.connect(path)) as conn, conn:
        count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        yield conn, (max(1, round(fraction * count)) if fraction > 0 else 0)


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: generate a sample ERP, or with --touch simulate a day of activity on an existing one."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.sample_erp", description=main.__doc__)
    parser.add_argument("--invoices", type=int, help="invoices to generate (10 to 1,000,000)")
    parser.add_argument("--seed", type=int, help="random seed (default 7, or 11 with --touch)")
    parser.add_argument("--out", type=Path, required=True, help="SQLite file to write (or touch)")
    parser.add_argument("--as-of", type=_iso_date, help="ledger date, YYYY-MM-DD (default today)")
    parser.add_argument("--bad-rows", type=float, default=0.002, help="fraction of sloppy ledger rows")
    parser.add_argument("--touch", type=float, metavar="FRACTION",
                        help="change this fraction of invoices in an existing file instead of generating")
    args = parser.parse_args(argv)
    seed = {} if args.seed is None else {"seed": args.seed}
    try:
        if args.touch is not None:
            print(f"touched {touch_invoices(args.out, args.touch, **seed):,} invoices in {args.out}")
        elif args.invoices is None:
            parser.error("--invoices is required unless --touch is given")
        else:
            summary = generate(args.out, args.invoices, as_of=args.as_of, bad_rows=args.bad_rows,
                               progress=sys.stderr.isatty(), **seed)
            print(summary.report())
    except (ValueError, FileNotFoundError) as error:
        parser.error(str(error))
    return 0


def _iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None

_OPEN_CLEAN_INVOICES = f"""
SELECT doc_no, cust_no, currency, balance, disputed, ptp_date FROM invoice
WHERE status = 'open' AND typeof(balance) IN ('integer', 'real') AND balance > 0
  AND typeof(total) IN ('integer', 'real') AND total > 0 AND currency IN ({", ".join(f"'{c}'" for c in CURRENCIES)})
ORDER BY doc_no
"""
_LATEST_CHANGE = " UNION ALL ".join(f"SELECT max(updated_at) FROM {table}" for table in
                                    ("customer", "contact", "invoice", "payment", "credit_note", "allocation"))


def _activity_time(conn: sqlite3.Connection, now: datetime | None) -> datetime:
    latest = max(filter(None, (row[0] for row in conn.execute(_LATEST_CHANGE))), default="1970-01-01 00:00:00")
    latest_at = datetime.fromisoformat(latest)
    if now is None:
        return max(datetime.now().replace(microsecond=0), latest_at + timedelta(seconds=1))
    if now.strftime("%Y-%m-%d %H:%M:%S") <= latest:
        raise ValueError(f"now ({now:%Y-%m-%d %H:%M:%S}) must be later than the latest updated_at ({latest})")
    return now


def _record_activity(conn: sqlite3.Connection, changes: int, rng: np.random.Generator, now: datetime) -> None:
    open_invoices = conn.execute(_OPEN_CLEAN_INVOICES).fetchall()
    if changes > len(open_invoices):
        raise ValueError(f"cannot change {changes:,} invoices: only {len(open_invoices):,} are open")
    stamp, today = now.strftime("%Y-%m-%d %H:%M:%S"), now.date()
    next_pay = int((conn.execute("SELECT max(pay_no) FROM payment").fetchone()[0] or "PAY-0")[4:]) + 1
    updates, payments, allocations = [], [], []
    picked = np.sort(rng.choice(len(open_invoices), changes, replace=False))
    draws = zip(picked, rng.random(changes), rng.uniform(0.2, 0.8, changes), rng.integers(3, 22, changes),
                rng.choice(PAYMENT_METHODS, changes, p=METHOD_SHARE))
    for row, action, share, days, method in draws:
        doc_no, cust_no, currency, balance, disputed, ptp_date = open_invoices[row]
        cents, unit = round(balance * 100), 100 if currency == "JPY" else 1
        if action < 0.7:  # a payment: in full most of the time
            amount = cents if action < 0.45 or cents <= unit else max(unit, int(cents * share) // unit * unit)
            pay_no = f"PAY-{next_pay:07d}"
            next_pay += 1
            payments.append((pay_no, cust_no, today.isoformat(), currency, amount / 100, str(method), stamp))
            allocations.append(("payment", pay_no, doc_no, amount / 100, stamp))
            cents -= amount
        elif action < 0.85:  # a dispute raised (with the clerk's reason) or resolved
            disputed = 1 - disputed
        else:  # a new promise to pay
            ptp_date = (today + timedelta(days=int(days))).isoformat()
        reason = dispute_reason(doc_no) if disputed else (None, None)
        updates.append((cents / 100, "paid" if cents == 0 else "open", disputed, ptp_date, *reason, stamp, doc_no))
    conn.executemany("INSERT INTO payment VALUES (?, ?, ?, ?, ?, ?, ?)", payments)
    conn.executemany("INSERT INTO allocation (doc_kind, doc_ref, invoice_doc_no, amount, updated_at) "
                     "VALUES (?, ?, ?, ?, ?)", allocations)
    conn.executemany("UPDATE invoice SET balance = ?, status = ?, disputed = ?, ptp_date = ?, dispute_code = ?, "
                     "dispute_note = ?, updated_at = ? WHERE doc_no = ?", updates)


# --- small vectorised helpers ------------------------------------------------------------------------------

def _write(path: Path, tables: dict[str, Table], progress: bool) -> None:
    """Create the schema and bulk-insert every table in chunks, indexes last (much faster than before)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        conn.executescript(SCHEMA)
        for name, table in tables.items():
            columns = list(table)
            rows = len(table[columns[0]])
            insert = f"INSERT INTO {name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            with tqdm(total=rows, desc=name, unit=" rows", disable=not progress) as bar:
                for start in range(0, rows, INSERT_CHUNK):
                    chunk = [np.asarray(table[column][start:start + INSERT_CHUNK]).tolist() for column in columns]
                    conn.executemany(insert, zip(*chunk))
                    bar.update(len(chunk[0]))
        conn.executescript(INDEXES)
        conn.commit()
    finally:
        conn.close()

