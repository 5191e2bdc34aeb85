"""A throwaway PostgreSQL server for the test session: its own data directory, port and socket.

It needs nothing but Debian's postgresql package (`make test` installs it). As root, the server runs as
the `postgres` user, since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

ROLE, PASSWORD = "ar_reader_pw", "right-Pa55word"
_TRUST = ["local all all trust", "host all all 127.0.0.1/32 trust", "host all all ::1/128 trust"]


def _bindir() -> Path:
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if not versions:
        raise RuntimeError("PostgreSQL server binaries not found: run `make test` (installs them) or "
                           "`apt-get install -y postgresql`")
    return versions[-1].parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def postgres_server():
    """Yield a SQLAlchemy URL of an empty database on a fresh local server; remove it all afterwards."""
    bindir = _bindir()
    base = Path(tempfile.mkdtemp(prefix="arpilot-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        as_user = ["runuser", "-u", "postgres", "--"]
    data, port = base / "data", _free_port()

    def run(*args: str) -> None:
        subprocess.run([*as_user, *args], check=True, capture_output=True, text=True)

    try:
        run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "arpilot", "-E", "UTF8", "--no-sync")
        options = f"-k {base} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(base / "server.log"), "-w", "start")
        try:
            yield f"postgresql+psycopg://arpilot@127.0.0.1:{port}/postgres"
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def scratch_database(server_url: str, prefix: str):
    """Yield the URL of a new empty database on the server; drop it afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
        admin.dispose()


def _write_hba(conn, lines: list[str]) -> None:
    """Replace the server's pg_hba.conf (as its superuser) and reload it."""
    path = conn.exec_driver_sql("SHOW hba_file").scalar()
    array = ", ".join("'" + line + "'" for line in lines)
    conn.exec_driver_sql(f"COPY (SELECT unnest(ARRAY[{array}])) TO '{path}'")
    conn.exec_driver_sql("SELECT pg_reload_conf()")


@contextmanager
def password_login(server_url: str):
    """Yield the URL (no password) of a database owned by a role that must log in with PASSWORD
    (scram-sha-256 over TCP); every other role keeps trust. Undone afterwards."""
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {ROLE} WITH (FORCE)")
        conn.exec_driver_sql(f"DROP ROLE IF EXISTS {ROLE}")
        conn.exec_driver_sql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
        conn.exec_driver_sql(f"CREATE DATABASE {ROLE} OWNER {ROLE}")
        _write_hba(conn, [f"host all {ROLE} 127.0.0.1/32 scram-sha-256", *_TRUST])
    url = sa.make_url(server_url).set(username=ROLE, database=ROLE)
    wrong = sa.create_engine(url.set(password="not-it"))
    for _ in range(50):  # the reload takes effect within moments
        try:
            wrong.connect().close()
            time.sleep(0.1)
        except sa.exc.OperationalError:
            break
    wrong.dispose()
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            _write_hba(conn, _TRUST)
            conn.exec_driver_sql(f"DROP DATABASE {ROLE} WITH (FORCE)")
            conn.exec_driver_sql(f"DROP ROLE {ROLE}")
        admin.dispose()
