"""The ledger entities arpilot syncs, and the fields each carries.

Every ledger source (SQL extraction queries, file-export mappings) delivers rows under these canonical
field names; validation, the warehouse and every later stage speak only this vocabulary.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Kind(StrEnum):
    TEXT = "text"
    DATE = "date"
    MONEY = "money"  # parsed exactly into integer cents
    BOOL = "bool"
    INT = "int"
    CURRENCY = "currency"  # ISO 4217 code


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind = Kind.TEXT
    required: bool = False

    @property
    def warehouse_column(self) -> str:
        """Money is stored as integer cents, so its column says so."""
        return f"{self.name}_cents" if self.kind is Kind.MONEY else self.name


@dataclass(frozen=True)
class Reference:
    """A field that must name a row of another entity (in the warehouse or in the same sync)."""

    field: str
    entity: str


@dataclass(frozen=True)
class Entity:
    name: str
    key: str
    fields: tuple[Field, ...]
    references: tuple[Reference, ...] = ()

    @property
    def table(self) -> str:
        return self.name

    @property
    def required(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields if f.required)


CUSTOMERS = Entity(
    "customers",
    key="customer_id",
    fields=(
        Field("customer_id", required=True),
        Field("name"),
        Field("country"),
        Field("city"),
        Field("time_zone"),
        Field("currency", Kind.CURRENCY),
        Field("terms_days", Kind.INT),
        Field("credit_limit", Kind.MONEY),
        Field("collector"),
        Field("sales_rep"),
        Field("autopay", Kind.BOOL),
        Field("on_hold", Kind.BOOL),
        Field("paused_until", Kind.DATE),
        Field("dunning_stopped", Kind.BOOL),
        Field("internal", Kind.BOOL),
    ),
)

CONTACTS = Entity(
    "contacts",
    key="contact_id",
    fields=(
        Field("contact_id", required=True),
        Field("customer_id", required=True),
        Field("role"),
        Field("name"),
        Field("email"),
        Field("phone"),
        Field("time_zone"),
        Field("verified_on", Kind.DATE),
        Field("bounced_on", Kind.DATE),
        Field("opt_out_email", Kind.BOOL),
        Field("opt_out_sms", Kind.BOOL),
        Field("opt_out_voice", Kind.BOOL),
    ),
    references=(Reference("customer_id", "customers"),),
)

INVOICES = Entity(
    "invoices",
    key="invoice_number",
    fields=(
        Field("invoice_number", required=True),
        Field("customer_id", required=True),
        Field("issue_date", Kind.DATE, required=True),
        Field("due_date", Kind.DATE, required=True),
        Field("currency", Kind.CURRENCY),  # the source's default currency when blank
        Field("amount", Kind.MONEY, required=True),
        Field("open", Kind.MONEY),  # blank: nothing open once settled_date is set, else the full amount
        Field("status"),  # open | paid | void; blank: paid when nothing is open
        Field("disputed", Kind.BOOL),
        Field("dispute_code"),  # the ledger's reason code for a dispute (e.g. pricing, damaged)
        Field("dispute_reason"),  # the reason in words
        Field("promise_to_pay_date", Kind.DATE),
        Field("settled_date", Kind.DATE),
        Field("pdf_path"),  # the ERP's own PDF of the invoice, delivered instead of one arpilot renders
    ),
    references=(Reference("customer_id", "customers"),),
)

PAYMENTS = Entity(
    "payments",
    key="payment_id",
    fields=(
        Field("payment_id", required=True),
        Field("customer_id", required=True),
        Field("received_on", Kind.DATE, required=True),
        Field("currency", Kind.CURRENCY),
        Field("amount", Kind.MONEY, required=True),
        Field("method"),
    ),
    references=(Reference("customer_id", "customers"),),
)

CREDIT_NOTES = Entity(
    "credit_notes",
    key="credit_note_id",
    fields=(
        Field("credit_note_id", required=True),
        Field("customer_id", required=True),
        Field("issue_date", Kind.DATE, required=True),
        Field("currency", Kind.CURRENCY),
        Field("amount", Kind.MONEY, required=True),
        Field("reason"),
    ),
    references=(Reference("customer_id", "customers"),),
)

ALLOCATIONS = Entity(
    "allocations",
    key="allocation_id",
    fields=(
        Field("allocation_id", required=True),
        Field("document_kind", required=True),
        Field("document_id", required=True),
        Field("invoice_number", required=True),
        Field("amount", Kind.MONEY, required=True),
    ),
    references=(Reference("invoice_number", "invoices"),),
)

# Optional: the ledger's exchange rates per day, for the executive report's company-wide figures. ``rate`` is
# what one unit of ``currency`` was worth in the reporting currency on ``rate_on``, kept as the ledger wrote it
# (a decimal, never a float); rate_id names the row, e.g. "EUR 2026-11-30".
EXCHANGE_RATES = Entity(
    "exchange_rates",
    key="rate_id",
    fields=(
        Field("rate_id", required=True),
        Field("rate_on", Kind.DATE, required=True),
        Field("currency", Kind.CURRENCY, required=True),
        Field("rate", required=True),
    ),
)

# Sync order: every entity comes after the entities it references.
ENTITIES: tuple[Entity, ...] = (CUSTOMERS, CONTACTS, INVOICES, PAYMENTS, CREDIT_NOTES, ALLOCATIONS, EXCHANGE_RATES)
BY_NAME = {e.name: e for e in ENTITIES}

INVOICE_STATUSES = ("open", "paid", "void")
