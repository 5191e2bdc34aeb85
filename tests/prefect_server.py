"""A real `prefect server` for tests that need its event, trigger and automation services (the ephemeral API
has no triggers): its own PREFECT_HOME and port, on SQLite or, as in production, on a PostgreSQL database; yields
the environment a subprocess talks to it with."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

PREFECT = str(Path(sys.executable).parent / "prefect")


@contextmanager
def prefect_server(home: Path, database_url: str | None = None, server_env: dict[str, str] | None = None):
    """``database_url``: the server's database as a SQLAlchemy URL (``postgresql+asyncpg://...``); default SQLite.
    ``server_env``: settings for the server process only (e.g. its services' timings). The UI is served at the
    API's address without /api; the server always gets its own PREFECT_UI_URL, as a production server must for the
    links in automations' messages."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    api = f"http://127.0.0.1:{port}/api"
    settings = {"PREFECT_UI_API_URL": api, "PREFECT_UI_URL": f"http://127.0.0.1:{port}",
                "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false"}
    if database_url:
        settings["PREFECT_SERVER_DATABASE_CONNECTION_URL"] = database_url
    server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env | settings | (server_env or {}), stdout=subprocess.DEVNULL,
                              stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{api}/health", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError("prefect server did not start within 120 s") from None
            time.sleep(0.5)
    try:
        yield env | {"PREFECT_API_URL": api}
    finally:
        server.terminate()
        server.wait(timeout=30)
