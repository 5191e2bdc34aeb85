"""Ledger source blocks: where the nightly sync reads the AR ledger from.

Two kinds, both editable in the Prefect UI: a SQL database reached by any SQLAlchemy URL with extraction
queries kept in sql/, and file exports (CSV, Parquet, Excel) read through a mapping file.
"""

from __future__ import annotations

from abc import ABC
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from prefect.blocks.core import Block
from pydantic import ConfigDict, Field, SecretStr, field_validator
from sqlalchemy.engine import Connection

from blocks.database import block_label, connection_error, password_free_url
from blocks.runbook import runbook

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class LedgerUnreachable(ConnectionError):
    """The ledger source could not be reached; transient, so the sync retries it."""


class LedgerFileMissing(FileNotFoundError):
    """A SQLite ledger URL names a file that is not there; permanent, so never retried."""


def project_path(path: str) -> Path:
    """Relative paths in blocks are relative to the arpilot checkout, wherever the worker runs."""
    p = Path(path)
    return p if p.is_absolute() else PROJECT_ROOT / p


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
                                f"does not exist; correct the url in {block_label(self)}. {runbook('ledger-unreachable')}")

    def describe(self) -> str:
        return f"{self.source_name} ({self._url().render_as_string(hide_password=True)})"

    def query_file(self, entity: str) -> Path:
        """The extraction query for ``entity``; the ledger has no such entity when the file is missing."""
        return project_path(self.queries) / f"{entity}.sql"

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection to the ledger; a database that cannot be reached raises LedgerUnreachable (retried), a
        refused login LoginRefused (not retried), both without the password."""
        self._require_sqlite_file()
        engine = sa.create_engine(self._url())
        try:
            with engine.connect() as conn:
                yield conn
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            raise connection_error(exc, f"ledger source {self.describe()}", block_label(self), self.password,
                                   LedgerUnreachable, "ledger-unreachable") from None
        finally:
            engine.dispose()


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
    def mapping_file(self) -> Path:
        return project_path(self.mapping_path)
