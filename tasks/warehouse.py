"""Working in the AR warehouse: its named queries and the few bulk reads and writes the stages need.

SQLite by default, PostgreSQL by URL. Writes go through the DBAPI's executemany with plain tuples: an ORM
or per-row dicts cost five times more at a million invoices.
"""

from __future__ import annotations

import functools
import gc
import sqlite3
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
IN_CHUNK = 500  # keys per IN (...) lookup: well under SQLite's and PostgreSQL's parameter limits
_SCAN_ABOVE = 20_000  # from this many keys on, one scan of the table beats chunked lookups
_BULK_LOAD_ROWS = 50_000  # from this many new rows into an empty table, indexes are built after the load


class bulk_work:  # noqa: N801 (used like the context manager function it replaces)
    """Pause the cyclic garbage collector while hundreds of thousands of short-lived rows are built
    (a ``with`` block, or ``@bulk_work()`` on a function).

    Bulk reads and writes make no reference cycles, but the collector would still walk the whole heap
    every few thousand allocations: at a million invoices that is a third of a sync's time. A class, not a
    generator: a flow run on Dask ships its flow, and every task it calls, to the workers, and a decorated
    function must pickle.
    """

    def __enter__(self) -> bulk_work:
        self.was_enabled = gc.isenabled()
        gc.disable()
        return self

    def __exit__(self, *exc) -> None:
        if self.was_enabled:
            gc.enable()

    def __call__(self, function):
        @functools.wraps(function)
        def paused(*args, **kwargs):
            with bulk_work():
                return function(*args, **kwargs)

        return paused


# SQLite binds no Decimal; its text is exact and a NUMERIC column stores it as a number (PostgreSQL binds it natively).
sqlite3.register_adapter(Decimal, str)


def named_query(folder: str, name: str) -> str:
    """The SQL in sql/<folder>/<name>.sql: queries live in files a DBA can read."""
    return (SQL_DIR / folder / f"{name}.sql").read_text()


def plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Plain Python values with None for SQL NULL: query_frame's columns hold pandas' NA, which no comparison
    survives, where code reads rows one by one."""
    return frame.astype(object).where(frame.notna(), None)


def to_date(value) -> date | None:
    """A DATE or TIMESTAMP as a backend returns it (date, datetime, pandas Timestamp, ISO text) as a date; None for
    NULL."""
    if value is None or (not isinstance(value, str | date) and pd.isna(value)):
        return None
    if isinstance(value, date):
        return value.date() if isinstance(value, datetime) else value
    return date.fromisoformat(str(value)[:10])


def timestamp(moment: datetime | None = None) -> datetime:
    """``moment`` (default: now) in UTC without a zone, to the second, as the warehouse's TIMESTAMP columns hold it."""
    return (moment or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None, microsecond=0)


def utcnow() -> str:
    """Now in UTC as ISO text, which both SQLite and PostgreSQL take for a TIMESTAMP."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _placeholders(conn: Connection, count: int) -> str:
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    return ", ".join([mark] * count)


def _db_values(frame: pd.DataFrame) -> list[tuple]:
    """Rows as DBAPI tuples of plain Python values (None for blanks), which every driver binds."""
    columns = [pa.array(frame[name], from_pandas=True).to_pylist() for name in frame.columns]
    return list(zip(*columns, strict=True))


def upsert(conn: Connection, table: str, key: str, frame: pd.DataFrame) -> int:
    """Insert rows, or overwrite the row with the same key. Returns the number of rows written."""
    if frame.empty:
        return 0
    columns = list(frame.columns)
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_placeholders(conn, len(columns))}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )
    conn.exec_driver_sql(sql, _db_values(frame))
    return len(frame)


def insert(conn: Connection, table: str, frame: pd.DataFrame) -> int:
    """Insert new rows. A large load into an empty table builds its secondary indexes afterwards,
    which is several times faster than maintaining them row by row."""
    if frame.empty:
        return 0
    columns = list(frame.columns)
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_placeholders(conn, len(columns))})"
    deferred = []
    if len(frame) >= _BULK_LOAD_ROWS and is_empty(conn, table):
        deferred = _secondary_indexes(conn, table)
        for name, _ in deferred:
            conn.exec_driver_sql(f"DROP INDEX {name}")
    conn.exec_driver_sql(sql, _db_values(frame))
    for _, ddl in deferred:
        conn.exec_driver_sql(ddl)
    return len(frame)


def is_empty(conn: Connection, table: str) -> bool:
    return conn.exec_driver_sql(f"SELECT 1 FROM {table} LIMIT 1").first() is None


def _secondary_indexes(conn: Connection, table: str) -> list[tuple[str, str]]:
    """(name, CREATE INDEX statement) of the table's indexes other than its primary key."""
    if conn.dialect.name == "sqlite":
        sql = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t AND sql IS NOT NULL"
    else:
        sql = ("SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = :t AND i.indexname NOT IN "
               "(SELECT conname FROM pg_constraint WHERE contype IN ('p', 'u'))")
    return [tuple(r) for r in conn.execute(sa.text(sql), {"t": table})]


def query_frame(conn: Connection, sql: str, params: dict | None = None) -> pd.DataFrame:
    """Run a query (``:name`` parameters) and return its rows as a frame of plain Python values.

    Goes through the DBAPI cursor and builds the frame column-wise: for a million rows this is several
    times faster than SQLAlchemy result rows.
    """
    compiled = sa.text(sql).bindparams(**(params or {})).compile(dialect=conn.dialect)
    args = compiled.construct_params()
    if compiled.positional:
        args = tuple(args[name] for name in compiled.positiontup)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        cursor.execute(str(compiled), args)
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    finally:
        cursor.close()
    values = zip(*rows, strict=True) if rows else [()] * len(columns)
    return pd.DataFrame({c: _column(v) for c, v in zip(columns, values, strict=True)})


def _column(values: tuple) -> pd.Series:
    """Arrow-backed where the column holds one type (most do); Python objects where a source mixes them."""
    try:
        return pd.Series(pd.arrays.ArrowExtensionArray(pa.array(values)))
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pd.Series(values, dtype=object)


def row_hashes(conn: Connection, table: str, key: str, keys: Sequence[str]) -> pd.Series:
    """Stored row_hash by key, for at least those of ``keys`` the table holds.

    Many keys: one scan of the whole table, returned whole (a superset is fine for lookups).
    """
    unique = pd.unique(pd.Series(keys, dtype=object).dropna())
    if len(unique) == 0:
        return pd.Series(dtype="int64")
    if len(unique) > _SCAN_ABOVE:
        frame = query_frame(conn, f"SELECT {key} AS k, row_hash AS h FROM {table}")
    else:
        parts = []
        for start in range(0, len(unique), IN_CHUNK):
            chunk = tuple(unique[start : start + IN_CHUNK])
            sql = f"SELECT {key}, row_hash FROM {table} WHERE {key} IN ({_placeholders(conn, len(chunk))})"
            parts.extend(conn.exec_driver_sql(sql, chunk).fetchall())
        frame = pd.DataFrame({"k": [r[0] for r in parts], "h": [r[1] for r in parts]}, dtype=object)
    return pd.Series(frame["h"].to_numpy(dtype="int64"), index=pd.Index(frame["k"], dtype=object))


def existing_keys(conn: Connection, table: str, key: str, keys: Sequence[str]) -> pd.Series:
    """Keys of ``table``: at least those of ``keys`` it holds (with many keys, simply all of them)."""
    unique = pd.unique(pd.Series(keys, dtype=object).dropna())
    if len(unique) > _SCAN_ABOVE:
        return query_frame(conn, f"SELECT {key} FROM {table}")[key]
    return pd.Series(row_hashes(conn, table, key, unique).index, dtype=object)


def read_sync_state(conn: Connection, source: str, entity: str) -> dict | None:
    row = conn.execute(
        sa.text("SELECT watermark, fingerprint, run_id FROM sync_state WHERE source = :s AND entity = :e"),
        {"s": source, "e": entity},
    ).mappings().first()
    return dict(row) if row else None


def awaiting_reference(conn: Connection, source: str, entity: str, run_id: str | None) -> list[str]:
    """Keys of the rows the given sync refused only for a reference that was not in the warehouse yet."""
    if run_id is None:
        return []
    sql = ("SELECT row_key FROM quarantine WHERE run_id = :r AND source = :s AND entity = :e "
           "AND awaits_reference AND row_key IS NOT NULL")
    return [r[0] for r in conn.execute(sa.text(sql), {"r": run_id, "s": source, "e": entity})]


def write_sync_state(conn: Connection, source: str, entity: str, watermark: str | None, fingerprint: str | None,
                     run_id: str) -> None:
    frame = pd.DataFrame([{"source": source, "entity": entity, "watermark": watermark, "fingerprint": fingerprint,
                           "run_id": run_id, "synced_at": utcnow()}])
    # sync_state has a composite key; delete-then-insert keeps the statement portable.
    conn.execute(sa.text("DELETE FROM sync_state WHERE source = :s AND entity = :e"), {"s": source, "e": entity})
    insert(conn, "sync_state", frame)
