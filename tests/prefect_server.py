"""A real `prefect server` for tests that need its event, trigger and automation services (the ephemeral API
has no triggers): its own PREFECT_HOME and port; yields the environment a subprocess talks to it with."""

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
def prefect_server(home: Path, server_env: dict[str, str] | None = None):
    """``server_env``: settings for the server process only (e.g. its services' timings); it always gets its own
    PREFECT_UI_URL, as a production server must for the links in automations' messages."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env | {"PREFECT_UI_URL": f"http://127.0.0.1:{port}"} | (server_env or {}),
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}/api"
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
