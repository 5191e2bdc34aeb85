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
import re
import sqlite3
import sys
import unicodedata
from collections.abc import Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

# --- where customers are ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class City:
    name: str
    tz: str
    phone: str  # national significant number template: '#' any digit, 'N' 2-9 but not 5; spaces split groups


@dataclass(frozen=True)
class Country:
    """How a country writes company names and phone numbers, so the sample looks local everywhere."""

    code: str
    currency: str
    share: float
    tld: str
    cities: tuple[City, ...]
    mobiles: tuple[str, ...]  # mobile number templates; empty where mobiles look like fixed lines (NANP)
    # (format over the first group and the rest, separator inside the rest); the first two suit every number
    phone_styles: tuple[tuple[str, str], ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    name_formats: tuple[str, ...]
    cores: tuple[str, ...]
    industries: tuple[str, ...]
    suffixes: tuple[str, ...]
    ap_mailboxes: tuple[str, ...]
    romaji: tuple[str, ...] = ()  # domain stems for non-Latin cores, aligned with `cores`

    @property
    def calling_code(self) -> str:
        return self.phone_styles[0][0].split()[0]


_NANP_STYLES = (("+1 {first} {rest}", " "), ("{first}-{rest}", "-"), ("({first}) {rest}", "-"),
                ("{first}.{rest}", "."), ("+1-{first}-{rest}", "-"))
_EN_FIRST = ("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Sarah",
             "Daniel", "Emily", "Chris", "Olivia", "Liam", "Noah", "Emma", "Grace", "Ethan", "Chloe")
_EN_LAST = ("Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson", "Taylor",
            "Clark", "Lewis", "Walker", "Hall", "Young", "O'Brien", "Murphy", "Patel", "Nguyen", "Kim")
_EN_FORMATS = ("{core} {industry} {suffix}", "{core} {suffix}", "{core} {industry}")
_EN_CORES = ("Acme", "Summit", "Pioneer", "Harbor", "Granite", "Blue Ridge", "Evergreen", "Atlas", "Northwind",
             "Redwood", "Silverline", "Keystone", "Meridian", "Cascade", "Lakeside", "Ironbridge", "Sterling",
             "Horizon", "Oakmont", "Brightwater")
_EN_INDUSTRIES = ("Logistics", "Foods", "Manufacturing", "Software", "Supply", "Engineering", "Health",
                  "Textiles", "Packaging", "Electric", "Analytics", "Hardware", "Farms", "Trading", "Medical",
                  "Construction", "Marine", "Robotics", "Paper", "Brewing")
_EN_MAILBOXES = ("ap", "accounts.payable", "accountspayable", "invoices", "ap+invoices", "payables", "finance")


def _english(code: str, currency: str, share: float, tld: str, cities: tuple[City, ...], mobiles: tuple[str, ...],
             phone_styles: tuple[tuple[str, str], ...], suffixes: tuple[str, ...], first: tuple[str, ...] = _EN_FIRST,
             last: tuple[str, ...] = _EN_LAST) -> Country:
    """A country whose companies take English names."""
    return Country(code, currency, share, tld, cities, mobiles, phone_styles, first, last, _EN_FORMATS,
                   _EN_CORES, _EN_INDUSTRIES, suffixes, _EN_MAILBOXES)


COUNTRIES: tuple[Country, ...] = (
    _english("US", "USD", 0.35, "com", (
        City("New York", "America/New_York", "212 N## ####"), City("Boston", "America/New_York", "617 N## ####"),
        City("Atlanta", "America/New_York", "404 N## ####"), City("Chicago", "America/Chicago", "312 N## ####"),
        City("Houston", "America/Chicago", "713 N## ####"), City("Denver", "America/Denver", "303 N## ####"),
        City("Phoenix", "America/Phoenix", "602 N## ####"),
        City("San Francisco", "America/Los_Angeles", "415 N## ####"),
        City("Seattle", "America/Los_Angeles", "206 N## ####"),
        City("Anchorage", "America/Anchorage", "907 N## ####"),
        City("Honolulu", "Pacific/Honolulu", "808 N## ####")), (), _NANP_STYLES, ("Inc.", "LLC", "Corp.", "Co.")),
    _english("CA", "CAD", 0.07, "ca", (
        City("Toronto", "America/Toronto", "416 N## ####"), City("Montréal", "America/Toronto", "514 N## ####"),
        City("Vancouver", "America/Vancouver", "604 N## ####"), City("Calgary", "America/Edmonton", "403 N## ####"),
        City("Halifax", "America/Halifax", "902 N## ####")), (), _NANP_STYLES, ("Inc.", "Ltd.")),
    _english("GB", "GBP", 0.10, "co.uk", (
        City("London", "Europe/London", "20 7### ####"), City("Manchester", "Europe/London", "161 8## ####"),
        City("Birmingham", "Europe/London", "121 4## ####"), City("Edinburgh", "Europe/London", "131 2## ####")),
        ("71## ######", "73## ######"), (("+44 {first} {rest}", " "), ("0{first} {rest}", " ")),
        ("Ltd", "PLC", "LLP")),
    Country("DE", "EUR", 0.10, "de", (
        City("Berlin", "Europe/Berlin", "30 N### ####"), City("Hamburg", "Europe/Berlin", "40 N### ####"),
        City("München", "Europe/Berlin", "89 N### ####"), City("Frankfurt am Main", "Europe/Berlin", "69 N### ####")),
        ("151 #### ####", "171 ### ####"),
        (("+49 {first} {rest}", " "), ("0{first} {rest}", " "), ("0{first}/{rest}", ""), ("(0{first}) {rest}", " ")),
        ("Lukas", "Anna", "Jonas", "Lena", "Felix", "Marie", "Jürgen", "Sabine", "Björn", "Katrin"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schäfer", "Köhler"),
        ("{core} {industry} {suffix}", "{core} {suffix}"),
        ("Müller", "Schröder", "Bücher", "Weiß", "Nordstern", "Alpen", "Rhein", "Hansa", "Bergmann", "Köhler"),
        ("Maschinenbau", "Logistik", "Feinkost", "Elektrotechnik", "Verpackung", "Spedition", "Druckerei"),
        ("GmbH", "AG", "GmbH & Co. KG"), ("rechnung", "buchhaltung", "kreditoren")),
    Country("FR", "EUR", 0.07, "fr", (
        City("Paris", "Europe/Paris", "1 4# ## ## ##"), City("Lyon", "Europe/Paris", "4 7# ## ## ##"),
        City("Marseille", "Europe/Paris", "4 9# ## ## ##"), City("Toulouse", "Europe/Paris", "5 6# ## ## ##")),
        ("6 1# ## ## ##", "6 7# ## ## ##"),
        (("+33 {first} {rest}", " "), ("0{first} {rest}", " "), ("0{first}.{rest}", ".")),
        ("Camille", "Léa", "Louis", "Chloé", "Hugo", "Élodie", "Jérôme", "Céline", "Théo", "Manon"),
        ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Lefèvre", "Girard", "Rousseau"),
        ("{core} {industry} {suffix}", "{core} {industry}"),
        ("Société Générale de", "Maison", "Lefèvre", "Béranger", "Étoile", "Lumière", "Mercier"),
        ("Café", "Vins", "Transports", "Boulangerie", "Textiles", "Électricité", "Logistique"),
        ("SA", "SAS", "SARL"), ("comptabilite", "factures", "fournisseurs")),
    Country("JP", "JPY", 0.06, "co.jp", (
        City("Tokyo", "Asia/Tokyo", "3 N### ####"), City("Osaka", "Asia/Tokyo", "6 N### ####"),
        City("Nagoya", "Asia/Tokyo", "52 N## ####")),
        ("90 N### ####", "80 N### ####"), (("+81 {first}-{rest}", "-"), ("0{first}-{rest}", "-")),
        ("Haruto", "Yui", "Sota", "Aoi", "Ren", "Hina", "Takumi", "Sakura", "Kenji", "Yuki"),
        ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura", "Kobayashi", "Kato"),
        ("株式会社{core}", "{core}株式会社"),
        ("さくら", "ふじ", "みどり", "ひかり", "山田商事", "東京精密", "大和物流", "日の出食品"), ("",), ("",),
        ("keiri", "seikyu", "ap"),
        romaji=("sakura", "fuji", "midori", "hikari", "yamada-shoji", "tokyo-seimitsu", "yamato-butsuryu",
                "hinode-foods")),
    _english("IN", "INR", 0.06, "co.in", (
        City("Mumbai", "Asia/Kolkata", "22 6### ####"), City("New Delhi", "Asia/Kolkata", "11 4### ####"),
        City("Bengaluru", "Asia/Kolkata", "80 4### ####"), City("Chennai", "Asia/Kolkata", "44 2### ####")),
        ("9N### #####",), (("+91 {first} {rest}", " "), ("0{first} {rest}", " ")), ("Pvt. Ltd.", "Ltd."),
        first=("Aarav", "Priya", "Rohan", "Ananya", "Vikram", "Sneha", "Arjun", "Kavya", "Rahul", "Deepa"),
        last=("Sharma", "Patel", "Iyer", "Reddy", "Gupta", "Nair", "Singh", "Mehta", "Rao", "Das")),
    _english("AU", "AUD", 0.06, "com.au", (
        City("Sydney", "Australia/Sydney", "2 9### ####"), City("Melbourne", "Australia/Melbourne", "3 9### ####"),
        City("Brisbane", "Australia/Brisbane", "7 3### ####"), City("Perth", "Australia/Perth", "8 9N## ####")),
        ("41# ### ###", "42# ### ###"),
        (("+61 {first} {rest}", " "), ("0{first} {rest}", " "), ("(0{first}) {rest}", " ")), ("Pty Ltd",)),
    Country("BR", "BRL", 0.05, "com.br", (
        City("São Paulo", "America/Sao_Paulo", "11 3### ####"),
        City("Rio de Janeiro", "America/Sao_Paulo", "21 2### ####"),
        City("Belo Horizonte", "America/Sao_Paulo", "31 3### ####"), City("Manaus", "America/Manaus", "92 3### ####")),
        ("11 9N### ####", "21 98### ####"), (("+55 {first} {rest}", "-"), ("({first}) {rest}", "-")),
        ("João", "Maria", "Pedro", "Ana", "Lucas", "Júlia", "Gabriel", "Beatriz", "Rafael", "Larissa"),
        ("Silva", "Santos", "Oliveira", "Souza", "Pereira", "Lima", "Carvalho", "Gonçalves", "Araújo", "Costa"),
        ("{core} {industry} {suffix}", "{industry} {core} {suffix}"),
        ("São Jorge", "Paulista", "Aurora", "Ipê", "Horizonte", "Três Irmãos", "Carioca"),
        ("Alimentos", "Logística", "Comércio", "Têxtil", "Engenharia", "Transportes"), ("Ltda.", "S.A."),
        ("financeiro", "contas.pagar", "nfe")),
    _english("SG", "SGD", 0.04, "com.sg", (City("Singapore", "Asia/Singapore", "62## ####"),),
             ("91## ####", "81## ####"), (("+65 {first} {rest}", " "), ("{first} {rest}", " ")), ("Pte. Ltd.",),
             first=("Wei Ling", "Jun Jie", "Hui Min", "Kai Xuan", "Siti", "Arjun", "Mei", "Darren"),
             last=("Tan", "Lim", "Lee", "Ng", "Wong", "Goh", "Chua", "Rahman")),
    _english("ZA", "ZAR", 0.04, "co.za", (
        City("Johannesburg", "Africa/Johannesburg", "11 N## ####"),
        City("Cape Town", "Africa/Johannesburg", "21 N## ####"), City("Durban", "Africa/Johannesburg", "31 N## ####")),
        ("82 ### ####", "72 ### ####"), (("+27 {first} {rest}", " "), ("0{first} {rest}", " ")), ("(Pty) Ltd",),
        first=("Thabo", "Naledi", "Pieter", "Anele", "Sipho", "Johan", "Lerato", "Ayesha"),
        last=("Nkosi", "Dlamini", "van der Merwe", "Botha", "Naidoo", "Mokoena", "Pillay", "Pretorius")),
)

UNITS_PER_USD = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "CAD": 1.37, "AUD": 1.53, "JPY": 150.0, "INR": 84.0,
                 "BRL": 5.4, "SGD": 1.34, "ZAR": 18.0}
CURRENCIES = tuple(UNITS_PER_USD)
COLLECTORS = ("Dana Whitfield", "Marco Rossi", "Aiko Tanaka", "Priya Nair", "Lukas Brandt", "Sophie Laurent",
              "Carlos Mendes", "Grace Okafor")
SALES_REPS = ("Tom Becker", "Nina Petrova", "Ravi Kumar", "Emma Johansson", "Jake Morrison", "Yuki Sato",
              "Hannah Schulz", "Lucas Moreau", "Isabela Costa", "Oliver Grant", "Mei Lin", "Sipho Ndlovu")

# --- how the book behaves ----------------------------------------------------------------------------------

HISTORY_DAYS = 540  # invoices are issued over the ~18 months before as_of
TERMS_DAYS, TERMS_SHARE = (15, 30, 60), (0.3, 0.5, 0.2)
# share of customers, mean days paid after due, spread, share of partial payments, share never paid
PAYER_PROFILES = {"punctual": (0.55, -3, 4, 0.03, 0.002), "slow": (0.30, 15, 10, 0.08, 0.01),
                  "chronic": (0.15, 55, 30, 0.25, 0.06)}
BATCH_PAYER_SHARE = 0.35  # pay everything due in a week with one payment on Friday
BILLED_IN_USD_SHARE = 0.12  # foreign customers invoiced in USD
CUSTOMER_FLAG_RATES = {"autopay": 0.02, "credit_hold": 0.01, "dunning_paused": 0.01, "dunning_stop": 0.005,
                       "is_internal": 0.005}
VOID_RATE, CREDIT_NOTE_RATE, FULL_CREDIT_SHARE = 0.005, 0.03, 0.2
DISPUTE_RATE, PROMISE_RATE = 0.02, 0.02  # of open invoices
CREDIT_NOTE_REASONS = ("Pricing error", "Damaged goods", "Service credit", "Volume rebate", "Short shipment")
PAYMENT_METHODS, METHOD_SHARE = ("ach", "wire", "check", "card"), (0.45, 0.2, 0.2, 0.15)
IDN_SHARE = 0.3  # customers with a non-ASCII name who also registered the non-ASCII domain
GMAIL_SHARE = 0.04  # small customers whose AP mailbox is a gmail address
BAD_CONTACT_RATE = 0.02  # share of customers per kind below
BAD_CONTACT_KINDS = ("no_contact", "sales_only", "noreply_only", "shared_email", "email_typo", "missing_email",
                     "missing_phone", "stale_verification", "bounced")
BAD_ROW_KINDS = ("due_before_doc", "impossible_date", "negative_total", "non_numeric_total", "unknown_currency",
                 "orphan_allocation")
INSERT_CHUNK = 100_000

SCHEMA = """
CREATE TABLE customer (cust_no TEXT PRIMARY KEY, name TEXT, country TEXT, city TEXT, tz TEXT, currency TEXT,
    terms_days INTEGER, credit_limit NUMERIC, collector TEXT, sales_rep TEXT, autopay INTEGER, credit_hold INTEGER,
    dunning_paused_until TEXT, dunning_stop INTEGER, is_internal INTEGER, updated_at TEXT);
CREATE TABLE contact (contact_id INTEGER PRIMARY KEY, cust_no TEXT, role TEXT, first_name TEXT, last_name TEXT,
    email TEXT, phone TEXT, tz TEXT, verified_on TEXT, bounced_on TEXT, opt_out_email INTEGER, opt_out_sms INTEGER,
    opt_out_voice INTEGER, updated_at TEXT);
CREATE TABLE invoice (doc_no TEXT PRIMARY KEY, cust_no TEXT, doc_date TEXT, due_date TEXT, currency TEXT,
    total NUMERIC, balance NUMERIC, status TEXT, disputed INTEGER, ptp_date TEXT, updated_at TEXT);
CREATE TABLE payment (pay_no TEXT PRIMARY KEY, cust_no TEXT, received_on TEXT, currency TEXT, amount NUMERIC,
    method TEXT, updated_at TEXT);
CREATE TABLE credit_note (cn_no TEXT PRIMARY KEY, cust_no TEXT, doc_date TEXT, currency TEXT, amount NUMERIC,
    reason TEXT, updated_at TEXT);
CREATE TABLE allocation (alloc_id INTEGER PRIMARY KEY, doc_kind TEXT, doc_ref TEXT, invoice_doc_no TEXT,
    amount NUMERIC, updated_at TEXT);
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
"""

Table = dict[str, Sequence]  # column name -> values, in schema order


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
    customers = _customers(rng, customer_count, as_of_day)
    contacts, bad_contacts = _contacts(rng, customers, as_of_day)
    ledger = _ledger(rng, customers, invoices, as_of_day, bad_counts["orphan_allocation"])
    _spoil_invoices(rng, ledger["invoice"], {kind: n for kind, n in bad_counts.items() if kind != "orphan_allocation"})
    tables = {"customer": customers.table, "contact": contacts} | ledger
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


# --- customers ---------------------------------------------------------------------------------------------

_CITIES = [city for country in COUNTRIES for city in country.cities]


@dataclass
class _Customers:
    """The customer table plus the traits that drive their contacts and how they pay."""

    table: Table
    country: np.ndarray  # index into COUNTRIES
    city: np.ndarray  # index into _CITIES
    currency: np.ndarray
    domain: np.ndarray
    gmail_local: np.ndarray  # unique per customer: their AP mailbox at gmail, and where a gmial typo sends it
    activity: np.ndarray  # probability that an invoice is theirs
    size: np.ndarray  # invoice amount multiplier
    mean_delay: np.ndarray  # days paid after due, on average
    spread: np.ndarray
    partial_share: np.ndarray
    never_share: np.ndarray
    batch_payer: np.ndarray
    autopay: np.ndarray

    @property
    def count(self) -> int:
        return self.country.size


def _customers(rng: np.random.Generator, count: int, as_of_day: int) -> _Customers:
    country = rng.choice(len(COUNTRIES), count, p=[c.share for c in COUNTRIES])
    city = _draw_index(rng, [c.cities for c in COUNTRIES], country)
    home_currency = np.array([c.currency for c in COUNTRIES])[country]
    currency = np.where(rng.random(count) < BILLED_IN_USD_SHARE, "USD", home_currency).astype(object)
    names, domain_stems, ascii_stems = _company_names(rng, country)
    flagged = _pick(rng, count, {flag: round(rate * count) for flag, rate in CUSTOMER_FLAG_RATES.items()})
    flag = {name: _flags(count, rows) for name, rows in flagged.items()}
    names[flagged["is_internal"]] = [f"{name} (intercompany)" for name in names[flagged["is_internal"]]]
    profile = rng.choice(len(PAYER_PROFILES), count, p=[p[0] for p in PAYER_PROFILES.values()])
    mean_delay, spread, partial_share, never_share = np.array([p[1:] for p in PAYER_PROFILES.values()])[profile].T
    credit_limit = _in_units(_from_usd(np.exp(rng.normal(np.log(25_000), 0.8, count)), currency), 100_000)
    paused_until = np.where(flag["dunning_paused"] == 1, _iso_dates(as_of_day + rng.integers(7, 62, count)), None)
    activity = np.exp(rng.normal(0, 1, count))
    table = {
        "cust_no": _numbered("C", np.arange(1, count + 1), 6),
        "name": names,
        "country": np.array([c.code for c in COUNTRIES])[country],
        "city": np.array([c.name for c in _CITIES])[city],
        "tz": np.where(rng.random(count) < 0.3, None, np.array([c.tz for c in _CITIES])[city]),
        "currency": currency,
        "terms_days": rng.choice(TERMS_DAYS, count, p=TERMS_SHARE),
        "credit_limit": np.maximum(credit_limit, 100_000) / 100,
        "collector": rng.choice(COLLECTORS, count),
        "sales_rep": rng.choice(SALES_REPS, count),
        "autopay": flag["autopay"],
        "credit_hold": flag["credit_hold"],
        "dunning_paused_until": paused_until,
        "dunning_stop": flag["dunning_stop"],
        "is_internal": flag["is_internal"],
        "updated_at": _timestamps(rng, as_of_day - rng.integers(1, HISTORY_DAYS + 1, count)),
    }
    return _Customers(
        table, country, city, currency, domain=domain_stems + "." + np.array([c.tld for c in COUNTRIES])[country],
        gmail_local=np.array([stem.replace("-", ".") + ".ap" for stem in ascii_stems], dtype=object),
        activity=activity / activity.sum(), size=np.exp(rng.normal(0, 0.6, count)),
        mean_delay=mean_delay + rng.normal(0, 3, count), spread=spread, partial_share=partial_share,
        never_share=never_share, batch_payer=rng.random(count) < BATCH_PAYER_SHARE, autopay=flag["autopay"] == 1)


def _company_names(rng: np.random.Generator, country: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Company names, their unique domain stems (IDN for some non-ASCII names) and ASCII stems."""
    fmt = _draw(rng, [c.name_formats for c in COUNTRIES], country)
    core = _draw_index(rng, [c.cores for c in COUNTRIES], country)
    industry = _draw(rng, [c.industries for c in COUNTRIES], country)
    suffix = _draw(rng, [c.suffixes for c in COUNTRIES], country)
    idn = rng.random(country.size) < IDN_SHARE
    cores = [core for c in COUNTRIES for core in c.cores]
    core_stems = [s for c in COUNTRIES for s in (c.romaji or [_slug(core) for core in c.cores])]
    idn_core_stems = [s for c in COUNTRIES for s in (c.romaji or [_slug(core, keep_unicode=True) for core in c.cores])]
    names, domain_stems, ascii_stems = [], [], []
    for f, k, ind, suf, keep_unicode in zip(fmt, core, industry, suffix, idn):
        names.append(f.format(core=cores[k], industry=ind, suffix=suf))
        with_industry = "{industry}" in f
        ascii_stems.append(core_stems[k] + (f"-{_slug(ind)}" if with_industry else ""))
        domain_stems.append(idn_core_stems[k] + (f"-{_slug(ind, keep_unicode=True)}" if with_industry else "")
                            if keep_unicode else ascii_stems[-1])
    number = _repeat_number(ascii_stems)
    return (np.array(names, dtype=object), np.array(domain_stems, dtype=object) + number,
            np.array(ascii_stems, dtype=object) + number)


# --- contacts ----------------------------------------------------------------------------------------------


def _contacts(rng: np.random.Generator, customers: _Customers, as_of_day: int) -> tuple[Table, dict[str, int]]:
    """About 1.5 contacts per customer, all valid except the AP contact of customers picked for a bad kind."""
    bad = _pick(rng, customers.count, {kind: round(BAD_CONTACT_RATE * customers.count) for kind in BAD_CONTACT_KINDS})
    bad["shared_email"] = bad["shared_email"][: bad["shared_email"].size // 2 * 2]  # in pairs
    per_customer = 1 + rng.choice(3, customers.count, p=(0.6, 0.3, 0.1))
    per_customer[bad["no_contact"]] = 0
    per_customer[np.concatenate((bad["sales_only"], bad["noreply_only"]))] = 1
    owner = np.repeat(np.arange(customers.count), per_customer)
    ap_contact = np.cumsum(per_customer) - per_customer  # row of each customer's first contact, its AP contact
    count = owner.size
    first_of_customer = np.arange(count) == ap_contact[owner]
    role = np.where(first_of_customer, "AP",
                    rng.choice(("Billing", "Sales", "Owner", "AP"), count, p=(0.35, 0.35, 0.2, 0.1))).astype(object)
    role[ap_contact[bad["sales_only"]]] = "Sales"
    noreply = ap_contact[bad["noreply_only"]]
    role[noreply] = "No-reply"

    country = customers.country[owner]
    first = _draw(rng, [c.first_names for c in COUNTRIES], country)
    last = _draw(rng, [c.last_names for c in COUNTRIES], country)
    person = np.array([_personal_mailbox(f, l, style)
                       for f, l, style in zip(first, last, rng.choice(3, count, p=(0.7, 0.2, 0.1)))], dtype=object)
    mailbox = _draw(rng, [c.ap_mailboxes for c in COUNTRIES], country)
    local = np.where((role == "AP") & (rng.random(count) < 0.6), mailbox,
                     np.where((role == "Billing") & (rng.random(count) < 0.5), "billing", person))
    local[noreply] = rng.choice(("no-reply", "noreply"), noreply.size)
    first[noreply] = last[noreply] = None
    domain = customers.domain[owner].astype(object)
    gmail = first_of_customer & (role == "AP") & (rng.random(count) < GMAIL_SHARE)
    local[gmail], domain[gmail] = customers.gmail_local[owner[gmail]], "gmail.com"
    local += _repeat_number((local + "@" + domain).tolist())  # the same mailbox drawn twice for one customer
    email = local + "@" + domain
    phone = _phones(rng, customers, owner, role)
    phone[noreply] = None
    verified = as_of_day - rng.integers(2, 171, count)  # within the default 180-day policy
    bounced = np.full(count, -1)

    at = {kind: ap_contact[rows] for kind, rows in bad.items()}
    pairs = at["shared_email"].reshape(2, -1)
    email[pairs[1]] = email[pairs[0]]
    typo = at["email_typo"]
    email[typo] = [_misspell(email[i], customers.gmail_local[owner[i]], n % 4) for n, i in enumerate(typo)]
    email[at["missing_email"]] = np.resize(np.array([None, ""], dtype=object), at["missing_email"].size)
    phone[at["missing_phone"]] = np.resize(np.array([None, ""], dtype=object), at["missing_phone"].size)
    stale = at["stale_verification"]
    verified[stale] = as_of_day - rng.integers(400, 1500, stale.size)
    hit = at["bounced"]
    bounced[hit] = verified[hit] + 1 + (rng.random(hit.size) * (as_of_day - 1 - verified[hit])).astype(np.int64)

    last_change = np.maximum(verified, bounced)
    table = {
        "contact_id": np.arange(1, count + 1),
        "cust_no": customers.table["cust_no"][owner],
        "role": role,
        "first_name": first,
        "last_name": last,
        "email": email,
        "phone": phone,
        "tz": np.where(rng.random(count) < 0.25, np.array([c.tz for c in _CITIES])[customers.city[owner]], None),
        "verified_on": _iso_dates(verified),
        "bounced_on": np.where(bounced >= 0, _iso_dates(bounced), None),
        "opt_out_email": _flags(count, np.flatnonzero(rng.random(count) < 0.01)),
        "opt_out_sms": _flags(count, np.flatnonzero(rng.random(count) < 0.04)),
        "opt_out_voice": _flags(count, np.flatnonzero(rng.random(count) < 0.03)),
        "updated_at": _timestamps(rng, last_change + (rng.random(count) * (as_of_day - last_change)).astype(np.int64)),
    }
    return table, {kind: rows.size for kind, rows in bad.items()}


def _personal_mailbox(first: str, last: str, style: int) -> str:
    first, last = _local(first), _local(last)
    return (f"{first}.{last}", f"{first[0]}{last}", f"{first}.{last}+ar")[style]


def _misspell(email: str, gmail_local: str, variant: int) -> str:
    """The AP-email typos people really make: gmial.com, a lost '@', a doubled dot, a comma for a dot."""
    local, domain = email.split("@")
    return (f"{gmail_local}@gmial.com", f"{local}.{domain}", f"{local}@{domain.replace('.', '..', 1)}",
            f"{local}@{domain.replace('.', ',', 1)}")[variant]


def _phones(rng: np.random.Generator, customers: _Customers, owner: np.ndarray, role: np.ndarray) -> np.ndarray:
    """Numbers valid for the customer's country, typed in one of its usual international or national styles."""
    country = customers.country[owner]
    mobile = np.isin(role, ("Sales", "Owner")) & (rng.random(owner.size) < 0.6)
    number = np.where(mobile, _draw(rng, [c.mobiles or [city.phone for city in c.cities] for c in COUNTRIES], country),
                      np.array([c.phone for c in _CITIES])[customers.city[owner]])
    styles = np.where(mobile, 2, np.array([len(c.phone_styles) for c in COUNTRIES])[country])
    style = (rng.random(owner.size) * styles).astype(np.int64)
    templates = np.array([_styled(n, COUNTRIES[c].phone_styles[s]) for n, c, s in zip(number, country, style)])
    phone = _fill_digits(rng, templates).astype(object)
    extension = np.flatnonzero(~mobile & np.isin(role, ("AP", "Billing")) & (rng.random(owner.size) < 0.12))
    phone[extension] = [f"{p}{sep}{n}" for p, sep, n in zip(phone[extension], rng.choice(
        (" x ", " ext. ", " ext "), extension.size), rng.integers(10, 9999, extension.size))]
    return phone


def _styled(number: str, style: tuple[str, str]) -> str:
    first, *rest = number.split(" ")
    fmt, separator = style
    return fmt.format(first=first, rest=separator.join(rest))


def _fill_digits(rng: np.random.Generator, templates: np.ndarray) -> np.ndarray:
    """Replace '#' by any digit and 'N' by 2-9 but 5 (no fictional 555 exchanges), one template at a time."""
    out = np.empty(templates.size, dtype=templates.dtype)
    kinds, which = np.unique(templates, return_inverse=True)
    for k, template in enumerate(kinds):
        rows = np.flatnonzero(which == k)
        chars = np.array(list(template))
        grid = np.tile(chars, (rows.size, 1))
        for placeholder, digits in (("#", "0123456789"), ("N", "2346789")):
            slots = chars == placeholder
            grid[:, slots] = np.array(list(digits))[rng.integers(0, len(digits), (rows.size, slots.sum()))]
        out[rows] = grid.view(f"<U{chars.size}").ravel()
    return out


# --- ledger ------------------------------------------------------------------------------------------------


def _ledger(rng: np.random.Generator, customers: _Customers, count: int, as_of_day: int,
            orphans: int) -> dict[str, Table]:
    """Invoices and how they were settled by as_of: credit notes, payments (partial, batched), allocations;
    plus `orphans` payments allocated to invoice numbers that do not exist."""
    cust = rng.choice(customers.count, count, p=customers.activity)
    doc_day = np.sort(as_of_day - rng.integers(1, HISTORY_DAYS + 1, count))
    due_day = doc_day + customers.table["terms_days"][cust]
    currency = customers.currency[cust]
    unit = _unit(currency)
    total = _from_usd(np.clip(np.exp(rng.normal(np.log(1800), 1.0, count)) * customers.size[cust], 40, 250_000),
                      currency)

    picked = _pick(rng, count, {"void": round(VOID_RATE * count), "credit_note": round(CREDIT_NOTE_RATE * count)})
    void = _flags(count, picked["void"]) == 1
    credited = picked["credit_note"]
    partly = np.maximum(_in_units(total[credited] * rng.uniform(0.05, 0.3, credited.size), unit[credited]),
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
    part = np.clip(_in_units(remaining * rng.uniform(0.2, 0.8, count), unit), unit, np.maximum(remaining - unit, unit))
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
                             _from_usd(rng.uniform(50, 5000, orphans), customers.currency[payer[regular:]])))
    received_at = _seconds(rng, received)
    method = np.where(customers.autopay[payer], rng.choice(("ach", "card"), payer.size),
                      rng.choice(PAYMENT_METHODS, payer.size, p=METHOD_SHARE))

    cn_order = np.argsort(credit_day, kind="stable")
    credited, credit, credit_day = credited[cn_order], credit[cn_order], credit_day[cn_order]
    credited_at = _seconds(rng, credit_day)
    cn_no = _numbered("CN-", np.arange(1, credited.size + 1), 6)

    changed_at = _seconds(rng, doc_day)
    voided_at = _seconds(rng, np.minimum(doc_day + rng.integers(1, 31, count), as_of_day - 1))
    changed_at = np.where(void, np.maximum(changed_at, voided_at), changed_at)
    changed_at[credited] = np.maximum(changed_at[credited], credited_at)
    changed_at[settled] = np.maximum(changed_at[settled], received_at[payment_of])
    open_rows = np.flatnonzero(balance > 0)
    flagged = _pick(rng, open_rows, {"disputed": round(DISPUTE_RATE * open_rows.size),
                                     "promised": round(PROMISE_RATE * open_rows.size)})
    for rows in flagged.values():  # recorded in the last two weeks
        changed_at[rows] = np.maximum(changed_at[rows], _seconds(rng, as_of_day - rng.integers(1, 15, rows.size)))
    ptp_date = np.full(count, None, dtype=object)
    ptp_date[flagged["promised"]] = _iso_dates(as_of_day + rng.integers(1, 22, flagged["promised"].size))

    doc_no = _numbered("INV-", np.arange(1_000_001, 1_000_001 + count), 7)
    cust_no = customers.table["cust_no"]
    pay_order = np.argsort(received, kind="stable")
    pay_no = np.empty(received.size, dtype=object)
    pay_no[pay_order] = _numbered("PAY-", np.arange(1, received.size + 1), 7)
    alloc_kind = np.repeat(["credit_note", "payment", "payment"], [credited.size, settled.size, orphans])
    alloc_ref = np.concatenate((cn_no, pay_no[payment_of], pay_no[regular:]))
    alloc_invoice = np.concatenate((doc_no[credited], doc_no[settled], _numbered("INV-", np.arange(1, orphans + 1), 7)))
    alloc_amount = np.concatenate((credit, paid[settled], amount[regular:]))
    alloc_at = np.concatenate((credited_at, received_at[payment_of], received_at[regular:]))
    alloc_order = np.argsort(alloc_at, kind="stable")
    return {
        "invoice": {
            "doc_no": doc_no, "cust_no": cust_no[cust], "doc_date": _iso_dates(doc_day),
            "due_date": _iso_dates(due_day), "currency": currency, "total": (total / 100).astype(object),
            "balance": balance / 100, "status": np.where(void, "void", np.where(balance == 0, "paid", "open")),
            "disputed": _flags(count, flagged["disputed"]), "ptp_date": ptp_date,
            "updated_at": _iso_timestamps(changed_at),
        },
        "payment": {
            "pay_no": pay_no[pay_order], "cust_no": cust_no[payer[pay_order]],
            "received_on": _iso_dates(received[pay_order]), "currency": customers.currency[payer[pay_order]],
            "amount": amount[pay_order] / 100, "method": method[pay_order],
            "updated_at": _iso_timestamps(received_at[pay_order]),
        },
        "credit_note": {
            "cn_no": cn_no, "cust_no": cust_no[cust[credited]], "doc_date": _iso_dates(credit_day),
            "currency": currency[credited], "amount": credit / 100,
            "reason": rng.choice(CREDIT_NOTE_REASONS, credited.size), "updated_at": _iso_timestamps(credited_at),
        },
        "allocation": {
            "alloc_id": np.arange(1, alloc_order.size + 1), "doc_kind": alloc_kind[alloc_order],
            "doc_ref": alloc_ref[alloc_order], "invoice_doc_no": alloc_invoice[alloc_order],
            "amount": alloc_amount[alloc_order] / 100, "updated_at": _iso_timestamps(alloc_at[alloc_order]),
        },
    }


def _spoil_invoices(rng: np.random.Generator, invoice: Table, counts: dict[str, int]) -> None:
    """Write the sloppy rows a legacy ERP lets through: exactly `counts[kind]` distinct invoices per kind."""
    rows = _pick(rng, len(invoice["doc_no"]), counts)
    early = rows["due_before_doc"]
    doc_day = invoice["doc_date"][early].astype("datetime64[D]").astype(np.int64)
    invoice["due_date"][early] = _iso_dates(doc_day - rng.integers(1, 31, early.size))
    impossible = rows["impossible_date"]
    month_day = np.resize(["02-30", "04-31", "06-31", "11-31"], impossible.size)
    invoice["doc_date"][impossible] = np.strings.add(np.strings.add(
        np.strings.slice(invoice["doc_date"][impossible], 0, 4), "-"), month_day)
    invoice["total"][rows["negative_total"]] *= -1
    invoice["total"][rows["non_numeric_total"]] = "n/a"
    invoice["currency"][rows["unknown_currency"]] = np.resize(["XXX", "EURO"], rows["unknown_currency"].size)


# --- day-to-day activity -----------------------------------------------------------------------------------

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
        elif action < 0.85:  # a dispute raised or resolved
            disputed = 1 - disputed
        else:  # a new promise to pay
            ptp_date = (today + timedelta(days=int(days))).isoformat()
        updates.append((cents / 100, "paid" if cents == 0 else "open", disputed, ptp_date, stamp, doc_no))
    conn.executemany("INSERT INTO payment VALUES (?, ?, ?, ?, ?, ?, ?)", payments)
    conn.executemany("INSERT INTO allocation (doc_kind, doc_ref, invoice_doc_no, amount, updated_at) "
                     "VALUES (?, ?, ?, ?, ?)", allocations)
    conn.executemany("UPDATE invoice SET balance = ?, status = ?, disputed = ?, ptp_date = ?, updated_at = ? "
                     "WHERE doc_no = ?", updates)


# --- small vectorised helpers ------------------------------------------------------------------------------


def _pick(rng: np.random.Generator, population: int | np.ndarray, counts: dict[str, int]) -> dict[str, np.ndarray]:
    """Disjoint random subsets (sorted), one per kind, so each kind is written exactly `counts[kind]` times."""
    shuffled = rng.permutation(population)
    ends = np.cumsum(list(counts.values()), dtype=np.int64)
    return {kind: np.sort(shuffled[end - n:end]) for (kind, n), end in zip(counts.items(), ends)}


def _repeat_number(keys: list[str]) -> np.ndarray:
    """'' for the first occurrence of each key, then '2', '3', ...: appended, repeated names become unique."""
    seen = pd.Series(keys).groupby(keys).cumcount().to_numpy()
    return np.where(seen > 0, (seen + 1).astype(str), "").astype(object)


def _flags(size: int, rows: np.ndarray) -> np.ndarray:
    """0/1 column with 1 on `rows`."""
    flags = np.zeros(size, dtype=np.int64)
    flags[rows] = 1
    return flags


def _draw_index(rng: np.random.Generator, lists: Sequence[Sequence], group: np.ndarray) -> np.ndarray:
    """For each row, a random position in the flattened `lists`, within the list its `group` names."""
    sizes = np.array([len(items) for items in lists])
    starts = np.cumsum(sizes) - sizes
    return starts[group] + (rng.random(group.size) * sizes[group]).astype(np.int64)


def _draw(rng: np.random.Generator, lists: Sequence[Sequence[str]], group: np.ndarray) -> np.ndarray:
    return np.array([item for items in lists for item in items], dtype=object)[_draw_index(rng, lists, group)]


def _unit(currency: np.ndarray) -> np.ndarray:
    """Smallest amount in cents: JPY has no minor unit."""
    return np.where(currency == "JPY", 100, 1)


def _from_usd(usd: np.ndarray, currency: np.ndarray) -> np.ndarray:
    """USD amounts converted to cents of `currency`, whole yen for JPY."""
    units_per_usd = pd.Series(currency).map(UNITS_PER_USD).to_numpy(dtype=float)
    return _in_units(usd * units_per_usd * 100, _unit(currency))


def _in_units(cents: np.ndarray, unit: np.ndarray | int) -> np.ndarray:
    """Float cents rounded to whole multiples of `unit` cents, as int64."""
    return (np.rint(cents / unit) * unit).astype(np.int64)


def _numbered(prefix: str, numbers: np.ndarray, width: int) -> np.ndarray:
    return np.array([f"{prefix}{n:0{width}d}" for n in numbers.tolist()], dtype=object)


def _iso_dates(days: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 as 'YYYY-MM-DD', through a lookup table: a million dates in milliseconds."""
    first = days.min(initial=0)
    return np.arange(first, days.max(initial=0) + 1).astype("datetime64[D]").astype("<U10")[days - first]


_CLOCK = np.array([f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86_400)])


def _seconds(rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
    """A moment in office hours (08:00-19:00) of each day, as seconds since 1970-01-01."""
    return days * 86_400 + rng.integers(8 * 3600, 19 * 3600, days.size)


def _iso_timestamps(seconds: np.ndarray) -> np.ndarray:
    days, second = np.divmod(seconds, 86_400)
    return np.strings.add(np.strings.add(_iso_dates(days), " "), _CLOCK[second])


def _timestamps(rng: np.random.Generator, days: np.ndarray) -> np.ndarray:
    return _iso_timestamps(_seconds(rng, days))


_GERMAN_LETTERS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe", "Ü": "Ue"})


def _ascii(text: str) -> str:
    text = text.translate(_GERMAN_LETTERS)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def _slug(text: str, keep_unicode: bool = False) -> str:
    text = text.lower() if keep_unicode else _ascii(text).lower()
    return re.sub(r"[^\w]+", "-", text).strip("-")


def _local(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", _ascii(name).lower())


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


if __name__ == "__main__":
    sys.exit(main())
