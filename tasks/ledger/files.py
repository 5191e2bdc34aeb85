"""Ledger file exports (CSV, Parquet, Excel) read through a declarative mapping file.

A mapping file says which file holds which entity, which column holds which arpilot field, and how the
export writes dates, decimals and yes/no values. No code is needed to load a new ERP's export.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tasks.ledger.entities import ENTITIES, Entity
from tasks.ledger.validation import ParseOptions, strptime_format


class MappingError(ValueError):
    """The mapping file or an export it names cannot be used; the message says what and where."""


class _Format(BaseModel):
    model_config = ConfigDict(extra="forbid")

    encoding: str | None = None
    delimiter: str | None = None
    decimal: str | None = Field(None, min_length=1, max_length=1)
    thousands: str | None = Field(None, max_length=1)  # "" or unset: none (a space always groups digits)
    date_format: str | None = None
    currency: Annotated[str | None, Field(description="default currency for rows that name none")] = None
    true_values: list[str] | None = None
    false_values: list[str] | None = None


class EntityMapping(_Format):
    file: str
    sheet: str | int | None = None  # Excel only
    columns: dict[str, str]  # arpilot field -> column in the file


class LedgerMapping(_Format):
    source: str | None = None
    customers: EntityMapping | None = None
    contacts: EntityMapping | None = None
    invoices: EntityMapping
    payments: EntityMapping | None = None
    credit_notes: EntityMapping | None = None
    allocations: EntityMapping | None = None

    @model_validator(mode="after")
    def _fields_exist(self) -> LedgerMapping:
        for entity in ENTITIES:
            m = self.entity(entity.name)
            if m is None:
                continue
            known = {f.name for f in entity.fields}
            unknown = sorted(set(m.columns) - known)
            if unknown:
                raise ValueError(f"{entity.name}.columns: unknown field(s) {unknown}; known fields: {sorted(known)}")
            unmapped = [f for f in entity.required if f not in m.columns]
            if unmapped:
                raise ValueError(f"{entity.name}.columns must map the required field(s) {unmapped}")
            options, _ = self.options(entity.name)
            if options.decimal == options.thousands:
                raise ValueError(f"{entity.name}: decimal and thousands are both '{options.decimal}'")
        return self

    def entity(self, name: str) -> EntityMapping | None:
        """The mapping of ``name``; None for an entity exports do not carry (exchange rates: a rates file)."""
        return getattr(self, name, None)

    def options(self, name: str) -> tuple[ParseOptions, _Format]:
        """Parse options for one entity: its own settings over the file-wide ones over arpilot's defaults."""
        m = self.entity(name)
        merged = {k: v for k, v in self.model_dump(include=set(_Format.model_fields)).items() if v is not None}
        merged.update({k: v for k, v in m.model_dump(include=set(_Format.model_fields)).items() if v is not None})
        fmt = _Format(**merged)
        defaults = ParseOptions()
        options = ParseOptions(
            date_format=strptime_format(fmt.date_format) if fmt.date_format else defaults.date_format,
            decimal=fmt.decimal or defaults.decimal,
            thousands=fmt.thousands or "",
            true_values=tuple(fmt.true_values) if fmt.true_values else defaults.true_values,
            false_values=tuple(fmt.false_values) if fmt.false_values is not None else defaults.false_values,
            default_currency=fmt.currency.upper() if fmt.currency else None,
        )
        return options, fmt


def load_mapping(path: str | Path) -> LedgerMapping:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MappingError(f"mapping file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"mapping file {path} is not valid YAML: {exc}") from None
    try:
        return LedgerMapping.model_validate(data or {})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'mapping'}: {e['msg']}" for e in exc.errors())
        raise MappingError(f"mapping file {path}: {problems}") from None


def fingerprint(*paths: Path) -> str:
    """SHA-256 over the files' bytes: an unchanged export is not read again."""
    digest = hashlib.sha256()
    for p in paths:
        with p.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


class FileRead:
    """One export read into rows of text, plus the rows too broken to split into columns."""

    def __init__(self, rows: pd.DataFrame, rejected: pd.DataFrame, extra_columns: list[str]):
        self.rows = rows  # original columns, plus row_ref
        self.rejected = rejected  # row_ref, reason, raw_row
        self.extra_columns = extra_columns


def read_export(path: Path, mapping: EntityMapping, fmt: _Format, entity: Entity) -> FileRead:
    """Read one export file; fail fast, naming file and column, when a mapped column is missing."""
    if not path.exists():
        raise MappingError(f"{entity.name} export {path} does not exist (check `file:` in the mapping)")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt", ".tsv"):
        frame, rejected = _read_csv(path, fmt, mapping.columns[entity.key])
    elif suffix == ".parquet":
        frame, rejected = pd.read_parquet(path).astype(object), _no_rejects()
        frame["row_ref"] = [f"{path.name} row {i + 1}" for i in range(len(frame))]
    elif suffix in (".xlsx", ".xlsm", ".xls"):
        frame = pd.read_excel(path, sheet_name=mapping.sheet or 0, dtype=object)
        frame["row_ref"] = [f"{path.name} row {i + 2}" for i in range(len(frame))]  # row 1 is the header
        rejected = _no_rejects()
    else:
        raise MappingError(f"{path}: unsupported export type '{suffix}' (use .csv, .parquet or .xlsx)")

    header = [c for c in frame.columns if c != "row_ref"]
    missing = [(f, c) for f, c in mapping.columns.items() if c not in header]
    if missing:
        named = ", ".join(f"'{c}' (mapped to {f})" for f, c in missing)
        raise MappingError(f"{path}: missing column {named}; the file has columns {header}")
    extra = [c for c in header if c not in mapping.columns.values()]
    return FileRead(frame, rejected, extra)


def _no_rejects() -> pd.DataFrame:
    return pd.DataFrame(columns=["row_ref", "row_key", "reason", "raw_row"])


def _text_encoding(path: Path, fmt: _Format) -> str:
    """The export's declared encoding; a UTF-8 byte-order mark is a mark, never part of the first column's name."""
    encoding = fmt.encoding or "utf-8-sig"
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise MappingError(f"{path}: encoding '{encoding}' is not a known text encoding "
                           "(e.g. utf-8, cp1252, latin-1; check `encoding:` in the mapping)") from None
    return "utf-8-sig" if name == "utf-8" else encoding


def _swallows_rows(record: list[str], delimiter: str, width: int) -> bool:
    """A quoted field holding whole lines that split into as many fields as the header: its closing quote is
    missing and it has swallowed the rows after it. (A note or address over two lines holds no such line.)"""
    return any(line.count(delimiter) >= width - 1 for value in record for line in value.splitlines()[1:])


def _ends_mid_line(path: Path) -> bool:
    """The file stops without a line break: its last line may have been cut off (a truncated copy)."""
    with path.open("rb") as fh:
        fh.seek(max(fh.seek(0, 2) - 4, 0))
        return fh.read().rstrip(b"\0")[-1:] not in (b"\n", b"\r")


def _read_csv(path: Path, fmt: _Format, key_column: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """CSV through the csv module, so a row with the wrong number of fields is quarantined, not lost.

    Undecodable bytes become U+FFFD, which validation flags per field, rather than failing the file. A quoted
    field that runs on over the rows after it (a missing closing quote) fails the read, naming file and line:
    the file is damaged and what it would load is not the ledger. The key of a cut-off last row is kept
    (``row_key``) when the fields before the cut hold it, so its invoice still counts as present.
    """
    delimiter = fmt.delimiter or ("\t" if path.suffix.lower() == ".tsv" else ",")
    rows, refs, rejected, header, last, line, last_ref = [], [], [], [], [], 0, None
    with path.open(encoding=_text_encoding(path, fmt), errors="replace", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = [h.strip() for h in next(reader, [])]
            line = reader.line_num
            for record in reader:
                start, line = line + 1, reader.line_num
                if not any(v.strip() for v in record):
                    continue  # blank line
                if line > start and _swallows_rows(record, delimiter, len(header)):
                    raise MappingError(f"{path}: a quoted field opened on line {start} runs on to line {line} over "
                                       "lines that look like rows: is a closing quote missing? Fix the export; "
                                       "nothing was loaded from it.")
                ref = f"{path.name} line {start}"
                last_ref, last = ref, record
                if len(record) != len(header):
                    reason = f"row has {len(record)} fields, the header has {len(header)}"
                    rejected.append({"row_ref": ref, "row_key": None, "reason": reason,
                                     "raw_row": json.dumps(record, ensure_ascii=False)})
                    continue
                rows.append(record)
                refs.append(ref)
        except csv.Error as exc:
            hint = ": a quoted field runs on past its line, is a closing quote missing?" if "limit" in str(exc) else ""
            raise MappingError(f"{path}: the row starting at line {line + 1} cannot be read ({exc}){hint}. "
                               "Fix the export; nothing was loaded from it.") from None
    if rejected and rejected[-1]["row_ref"] == last_ref and len(last) < len(header) and _ends_mid_line(path):
        rejected[-1]["reason"] += "; the file ends inside this row: was it cut off?"
        at = header.index(key_column) if key_column in header else len(last)
        rejected[-1]["row_key"] = last[at].strip() if at < len(last) - 1 else None  # the cut field may be partial
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    frame["row_ref"] = refs
    return frame, pd.DataFrame(rejected, columns=_no_rejects().columns)


def to_canonical(read: FileRead, mapping: EntityMapping) -> pd.DataFrame:
    """Rename mapped columns to arpilot field names; keep row_ref."""
    columns = {column: field for field, column in mapping.columns.items()}
    return read.rows[[*columns, "row_ref"]].rename(columns=columns)


def derived_customers(invoices: pd.DataFrame, export_name: str) -> pd.DataFrame:
    """Customers for an export that has invoices only: one per customer_id, named by its id."""
    ids = invoices["customer_id"].dropna().astype(str).str.strip()
    ids = ids[ids != ""].drop_duplicates()
    return pd.DataFrame(
        {"customer_id": ids.to_numpy(), "name": ids.to_numpy(),
         "row_ref": [f"customer {i} (from {export_name})" for i in ids]},
        dtype=object,
    )

