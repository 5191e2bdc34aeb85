"""The AR warehouse block: where arpilot keeps the synced ledger, its outbox and its history.

The block makes the engine every stage works through, with its schema brought up to date by the versioned
DDL files in sql/warehouse/.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from prefect.blocks.core import Block
from pydantic import ConfigDict, Field, SecretStr, field_validator
from sqlalchemy.engine import Engine

from blocks.database import block_label, connection_error, password_free_url
from blocks.ledger import PROJECT_ROOT, project_path

MIGRATIONS_DIR = PROJECT_ROOT / "sql" / "warehouse"


class WarehouseUnreachable(ConnectionError):
    """The AR warehouse could not be reached."""


def create_warehouse_engine(url: str | sa.URL) -> Engine:
    """An engine with the settings a nightly batch wants.

    On SQLite: WAL, and a page cache big enough for a million invoices' indexes. SQLite's foreign-key
    enforcement stays off: validation has checked every reference before a row is written, and
    enforcement would double the write cost (PostgreSQL enforces the same keys anyway).
    """
    url = sa.make_url(url)
    if url.get_backend_name() == "sqlite" and url.database:
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            # Index pages of a million-invoice warehouse stay in memory during a sync (default is 2 MiB).
            cur.execute("PRAGMA cache_size=-262144")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.close()

    return engine


def migrate(engine: Engine) -> list[str]:
    """Apply the versioned DDL files in sql/warehouse/ that this warehouse has not seen yet."""
    applied_now = []
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version VARCHAR(64) PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
        )
        done = {r[0] for r in conn.exec_driver_sql("SELECT version FROM schema_migrations")}
        for path in sorted(MIGRATIONS_DIR.glob("V*.sql")):
            version = path.stem
            if version in done:
                continue
            for statement in _statements(path.read_text()):
                conn.exec_driver_sql(statement)
            conn.execute(
                sa.text("INSERT INTO schema_migrations (version, applied_at) VALUES (:v, :t)"),
                {"v": version, "t": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")},
            )
            applied_now.append(version)
    return applied_now


def _statements(sql: str) -> list[str]:
    lines = [line for line in sql.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


class ArWarehouse(Block):
    """SQLite file by default; PostgreSQL for production (``postgresql+psycopg://user@host/db``)."""

    _block_type_name = "arpilot AR warehouse"
    _block_type_slug = "arpilot-ar-warehouse"
    _description = "The AR warehouse database arpilot syncs into and works from."

    model_config = ConfigDict(hide_input_in_errors=True)  # a refused url may hold a password

    url: str = Field("sqlite:///var/warehouse.sqlite", description="SQLAlchemy URL without the password.")
    password: SecretStr | None = Field(None, description="Database password, kept out of the URL and logs.")

    @field_validator("url")
    @classmethod
    def _password_free(cls, v: str) -> str:
        return password_free_url(v)

    def _url(self) -> sa.URL:
        url = sa.make_url(self.url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            url = url.set(database=str(project_path(url.database)))
        return url.set(password=self.password.get_secret_value()) if self.password else url

    def describe(self) -> str:
        return self._url().render_as_string(hide_password=True)

    def engine(self) -> Engine:
        """A migrated engine: the schema is brought up to date before anything reads or writes (a SQLite file
        that does not exist yet is created)."""
        engine = create_warehouse_engine(self._url())
        try:
            migrate(engine)
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            engine.dispose()
            raise connection_error(exc, f"AR warehouse {self.describe()}", block_label(self), self.password,
                                   WarehouseUnreachable, "warehouse-unreachable") from None
        return engine
