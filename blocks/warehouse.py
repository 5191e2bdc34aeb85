"""The AR warehouse block: where arpilot keeps the synced ledger, its outbox and its history."""

from __future__ import annotations

import sqlalchemy as sa
from prefect.blocks.core import Block
from pydantic import ConfigDict, Field, SecretStr, field_validator
from sqlalchemy.engine import Engine

from blocks.database import block_label, connection_error, password_free_url
from blocks.ledger import project_path
from tasks.warehouse import create_warehouse_engine, migrate


class WarehouseUnreachable(ConnectionError):
    """The AR warehouse could not be reached."""


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
                                   WarehouseUnreachable) from None
        return engine
