"""Reading the ledger from each kind of source block: a SQL database through its extraction queries, or file
exports through their mapping file.

The blocks say where the ledger is and how to reach it; a reader knows what to read from it, so that the sync
works the same way from either.
"""

from __future__ import annotations

from typing import Protocol

import pandas as pd

from blocks.ledger import FileLedgerSource, LedgerSourceBlock, SqlLedgerSource
from tasks import warehouse as wh
from tasks.ledger.entities import BY_NAME, CUSTOMERS, INVOICES
from tasks.ledger.extract import LedgerExtract
from tasks.ledger.files import derived_customers, fingerprint, load_mapping, read_export, to_canonical
from tasks.ledger.validation import TEXT

_EPOCH = "0001-01-01 00:00:00"


class LedgerReader(Protocol):
    """What the sync reads from a ledger source; its settings (the deletion guard) stay on ``block``."""

    block: LedgerSourceBlock

    def ledger_name(self) -> str:
        """The ledger's name in sync state, quarantine and run artifacts."""

    def describe(self) -> str:
        """Where the ledger comes from, safe to log: never a password."""

    def provides(self, entity: str) -> bool: ...

    def extract(self, entity: str, state: dict | None, awaiting: list[str]) -> LedgerExtract:
        """Rows of ``entity`` changed since ``state`` (the sync_state row of the last sync, or None),
        plus the rows keyed ``awaiting`` (refused last time for a reference not yet in the warehouse)."""

    def invoice_numbers(self) -> pd.Series | None:
        """Every invoice number the ledger holds now, to notice deleted invoices, for sources whose
        invoice extract does not carry ``ledger_keys``; None if unknown."""


def ledger_reader(block: LedgerSourceBlock) -> LedgerReader:
    """The reader for a ledger source block."""
    if isinstance(block, FileLedgerSource):
        return FileLedgerReader(block)
    if isinstance(block, SqlLedgerSource):
        return SqlLedgerReader(block)
    raise TypeError(f"{type(block).__name__} is not a ledger source block")


def _trimmed(numbers: pd.Series) -> pd.Series:
    return numbers.dropna().astype(TEXT).str.strip()


class SqlLedgerReader:
    """Each entity's extraction query, run for what changed since the last sync's watermark."""

    def __init__(self, block: SqlLedgerSource):
        self.block = block

    def ledger_name(self) -> str:
        return self.block.source_name

    def describe(self) -> str:
        return self.block.describe()

    def provides(self, entity: str) -> bool:
        return self.block.query_file(entity).exists()

    def _fetch(self, sql: str, params: dict) -> pd.DataFrame:
        with self.block.connect() as conn:
            return wh.query_frame(conn, sql, params)

    def extract(self, entity: str, state: dict | None, awaiting: list[str]) -> LedgerExtract:
        since = (state or {}).get("watermark") or _EPOCH
        query = self.block.query_file(entity).read_text()
        key = BY_NAME[entity].key
        rows = self._fetch(query, {"since": since})
        stamps = rows.pop("source_updated_at").dropna().astype(str) if "source_updated_at" in rows else pd.Series()
        again = sorted(set(awaiting) - set(rows[key].astype(str))) if len(rows) else sorted(awaiting)
        for start in range(0, len(again), wh.IN_CHUNK):
            chunk = {f"k{i}": k for i, k in enumerate(again[start : start + wh.IN_CHUNK])}
            keyed = self._fetch(f"SELECT * FROM ({query}) AS ledger_rows WHERE ledger_rows.{key} IN "
                                f"({', '.join(':' + name for name in chunk)})", {"since": _EPOCH, **chunk})
            rows = pd.concat([rows, keyed.drop(columns="source_updated_at", errors="ignore")], ignore_index=True)
        rows["row_ref"] = f"{entity} {key}=" + rows[key].astype(str) if len(rows) else pd.Series(dtype=object)
        return LedgerExtract(entity, rows, watermark=max(stamps.max() if len(stamps) else since, since))

    def invoice_numbers(self) -> pd.Series | None:
        """From ``invoice_numbers.sql`` (every invoice number, changed or not); without it, no deletion check."""
        query = self.block.query_file("invoice_numbers")
        if not query.exists():
            return None
        return _trimmed(self._fetch(query.read_text(), {})["invoice_number"])


class FileLedgerReader:
    """The exports a mapping file names, read whole when their bytes changed (each is a full snapshot)."""

    def __init__(self, block: FileLedgerSource):
        self.block = block
        self.mapping = load_mapping(block.mapping_file)

    def ledger_name(self) -> str:
        return self.block.source_name or self.mapping.source or self.block.mapping_file.stem

    def describe(self) -> str:
        return f"{self.ledger_name()} (mapping {self.block.mapping_file})"

    def provides(self, entity: str) -> bool:
        return entity == CUSTOMERS.name or self.mapping.entity(entity) is not None

    def extract(self, entity: str, state: dict | None, awaiting: list[str]) -> LedgerExtract:
        own = self.mapping.entity(entity)
        # Without a customers export, customers are the ids the invoices name.
        source_entity = entity if own is not None else INVOICES.name
        entity_mapping = self.mapping.entity(source_entity)
        options, fmt = self.mapping.options(source_entity)
        path = self.block.mapping_file.parent / entity_mapping.file
        fp = fingerprint(self.block.mapping_file, path)
        unchanged = bool(state) and state.get("fingerprint") == fp
        if unchanged and not awaiting:
            return LedgerExtract(entity, pd.DataFrame(), fingerprint=fp, unchanged=True, options=options)
        read = read_export(path, entity_mapping, fmt, BY_NAME[source_entity])
        rows = to_canonical(read, entity_mapping)
        if own is None:
            return LedgerExtract(entity, derived_customers(rows, path.name), fingerprint=fp, options=options)
        raw, rejected = read.rows.drop(columns="row_ref"), read.rejected
        # Every key of the snapshot, including those recovered from rows too broken to split into fields.
        key_column = read.rows[entity_mapping.columns[BY_NAME[entity].key]]
        keys = _trimmed(pd.concat([key_column, read.rejected["row_key"]], ignore_index=True))
        notes = [f"{path.name}: ignored column(s) {read.extra_columns}"] if read.extra_columns else []
        if unchanged:  # only the rows still waiting for a reference
            wanted = rows[BY_NAME[entity].key].astype(str).str.strip().isin(set(awaiting))
            rows, raw, rejected = rows[wanted], raw[wanted], None
            notes = [f"{path.name} unchanged: re-checked {len(rows)} row(s) waiting for a reference"]
        return LedgerExtract(entity, rows, raw=raw, rejected=rejected, options=options, fingerprint=fp, notes=notes,
                             ledger_keys=keys, origin=str(path))

    def invoice_numbers(self) -> None:
        """Not needed: every read of an export is a full snapshot and carries its keys (ledger_keys)."""
        return None
