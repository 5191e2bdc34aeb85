"""Ledger source blocks: where the nightly sync reads the AR ledger from.

Two kinds, both editable in the Prefect UI: a SQL database reached by any SQLAlchemy URL with extraction
queries kept in sql/, and file exports (CSV, Parquet, Excel) read through a mapping file.
"""

from __future__ import annotations

from abc import ABC
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from prefect.blocks.core import Block
from pydantic import ConfigDict, Field, SecretStr, field_validator

from blocks.database import block_label, connection_error, password_free_url
from tasks.ledger.entities import BY_NAME, CUSTOMERS, INVOICES
from tasks.ledger.extract import LedgerExtract
from tasks.ledger.files import derived_customers, fingerprint, load_mapping, read_export, to_canonical
from tasks.ledger.validation import TEXT
from tasks.warehouse import IN_CHUNK, query_frame

PROJECT_ROOT = Path(__file__).resolve().parent.parent
_EPOCH = "0001-01-01 00:00:00"


class LedgerUnreachable(ConnectionError):
    """The ledger source could not be reached; transient, so the sync retries it."""


class LedgerFileMissing(FileNotFoundError):
    """A SQLite ledger URL names a file that is not there; permanent, so never retried."""


def project_path(path: str) -> Path:
    """Relative paths in blocks are relative to the arpilot checkout, wherever the worker runs."""
    p = Path(path)
    return p if p.is_absolute() else PROJECT_ROOT / p


def _trimmed(numbers: pd.Series) -> pd.Series:
    return numbers.dropna().astype(TEXT).str.strip()


class LedgerSourceBlock(Block, ABC):
    """What every ledger source block has: the guard against a damaged extract deleting invoices."""

    max_deleted_share: float = Field(
        0.02, ge=0, le=1,
        description="Largest share of the warehouse's open invoices one sync may mark deleted (0.02 = 2 %); a sync "
                    "that would delete more, or any from an export with damaged rows, fails before writing. To "
                    "confirm a deliberate clean-up, run the nightly once with confirm_deleted_invoices.")

    def setting(self, field: str) -> str:
        """Where a person changes ``field``, for messages: "<field> in block <type>/<name>"."""
        return f"{field} in {block_label(self) if self._block_document_name else 'the ledger block'}"


class SqlLedgerSource(LedgerSourceBlock):
    """An ERP or accounting database read with the extraction queries in a folder of .sql files.

    Each query is named after the entity it extracts (invoices.sql, customers.sql, ...), returns arpilot's
    field names as column aliases plus ``source_updated_at``, and takes ``:since`` so that a night reads
    only what changed. A missing query file means the ledger has no such entity. An optional
    ``invoice_numbers.sql`` lists every invoice number, so invoices deleted in the ledger are noticed.
    """

    _block_type_name = "arpilot SQL ledger"
    _block_type_slug = "arpilot-sql-ledger"
    _description = "AR ledger in a SQL database (any SQLAlchemy URL), read incrementally by extraction queries."

    model_config = ConfigDict(hide_input_in_errors=True)  # a refused url may hold a password

    source_name: str = Field("erp", description="Name of this ledger in runs, sync state and quarantine.")
    url: str = Field(..., description="SQLAlchemy URL without the password, e.g. postgresql+psycopg://ar@erp-db/erp")
    password: SecretStr | None = Field(None, description="Database password, kept out of the URL and logs.")
    queries: str = Field("sql/ledger/sample_erp", description="Folder of extraction queries (relative to the checkout).")
    retries: int = Field(3, ge=0, description="Retries when the database cannot be reached.")
    retry_delay_seconds: float = Field(10.0, ge=0, description="Wait before the first retry; doubles each time.")

    @field_validator("url")
    @classmethod
    def _password_free(cls, v: str) -> str:
        return password_free_url(v)

    def _url(self) -> sa.URL:
        url = sa.make_url(self.url)
        return url.set(password=self.password.get_secret_value()) if self.password else url

    def _require_sqlite_file(self) -> None:
        """SQLAlchemy would create a missing SQLite file, and the sync would read an empty ledger."""
        url = sa.make_url(self.url)
        if (url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:") or "uri" in url.query
                or Path(url.database).exists()):
            return
        raise LedgerFileMissing(f"ledger source {self.source_name}: the SQLite file {Path(url.database).resolve()} "
                                f"does not exist; correct the url in {block_label(self)}")

    def ledger_name(self) -> str:
        return self.source_name

    def describe(self) -> str:
        return f"{self.source_name} ({self._url().render_as_string(hide_password=True)})"

    def _query(self, entity: str) -> Path:
        return project_path(self.queries) / f"{entity}.sql"

    def provides(self, entity: str) -> bool:
        return self._query(entity).exists()

    def _fetch(self, sql: str, params: dict) -> pd.DataFrame:
        self._require_sqlite_file()
        engine = sa.create_engine(self._url())
        try:
            with engine.connect() as conn:
                return query_frame(conn, sql, params)
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise connection_error(exc, f"ledger source {self.describe()}", block_label(self), self.password,
                                   LedgerUnreachable) from None
        finally:
            engine.dispose()

    def extract(self, entity: str, state: dict | None, awaiting: list[str]) -> LedgerExtract:
        since = (state or {}).get("watermark") or _EPOCH
        query = self._query(entity).read_text()
        key = BY_NAME[entity].key
        rows = self._fetch(query, {"since": since})
        stamps = rows.pop("source_updated_at").dropna().astype(str) if "source_updated_at" in rows else pd.Series()
        again = sorted(set(awaiting) - set(rows[key].astype(str))) if len(rows) else sorted(awaiting)
        for start in range(0, len(again), IN_CHUNK):
            chunk = {f"k{i}": k for i, k in enumerate(again[start : start + IN_CHUNK])}
            keyed = self._fetch(f"SELECT * FROM ({query}) AS ledger_rows WHERE ledger_rows.{key} IN "
                                f"({', '.join(':' + name for name in chunk)})", {"since": _EPOCH, **chunk})
            rows = pd.concat([rows, keyed.drop(columns="source_updated_at", errors="ignore")], ignore_index=True)
        rows["row_ref"] = f"{entity} {key}=" + rows[key].astype(str) if len(rows) else pd.Series(dtype=object)
        return LedgerExtract(entity, rows, watermark=max(stamps.max() if len(stamps) else since, since))

    def invoice_numbers(self) -> pd.Series | None:
        """From ``invoice_numbers.sql`` (every invoice number, changed or not); without it, no deletion check."""
        query = self._query("invoice_numbers")
        if not query.exists():
            return None
        return _trimmed(self._fetch(query.read_text(), {})["invoice_number"])


class FileLedgerSource(LedgerSourceBlock):
    """Ledger file exports (CSV, Parquet, Excel) read through a mapping file; see README "Mapping file".

    An export whose bytes have not changed since the last sync is not read again. Each export is a full
    snapshot, so an invoice that disappears from it is marked deleted (within ``max_deleted_share``); a row
    too broken to split into fields still counts as present when its key can be recovered.
    """

    _block_type_name = "arpilot file ledger"
    _block_type_slug = "arpilot-file-ledger"
    _description = "AR ledger as CSV / Parquet / Excel exports, described by a YAML mapping file."

    mapping_path: str = Field(..., description="Path of the YAML mapping file (relative to the checkout).")
    source_name: str | None = Field(None, description="Name of this ledger; default: the mapping's `source` or file name.")

    @property
    def _mapping_file(self) -> Path:
        return project_path(self.mapping_path)

    def _mapping(self):
        return load_mapping(self._mapping_file)

    def ledger_name(self) -> str:
        return self.source_name or self._mapping().source or self._mapping_file.stem

    def describe(self) -> str:
        return f"{self.ledger_name()} (mapping {self._mapping_file})"

    def provides(self, entity: str) -> bool:
        return entity == CUSTOMERS.name or self._mapping().entity(entity) is not None

    def extract(self, entity: str, state: dict | None, awaiting: list[str]) -> LedgerExtract:
        mapping = self._mapping()
        own = mapping.entity(entity)
        # Without a customers export, customers are the ids the invoices name.
        source_entity = entity if own is not None else INVOICES.name
        entity_mapping = mapping.entity(source_entity)
        options, fmt = mapping.options(source_entity)
        path = self._mapping_file.parent / entity_mapping.file
        fp = fingerprint(self._mapping_file, path)
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
