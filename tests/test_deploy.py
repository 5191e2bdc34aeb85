"""`prefect deploy --all` against a real local Prefect server: the deployments in prefect.yaml are valid."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PREFECT = str(Path(sys.executable).parent / "prefect")

READ_DEPLOYMENT = """
import asyncio, json
from prefect.client.orchestration import get_client
async def main():
    async with get_client() as client:
        d = await client.read_deployment_by_name("nightly/nightly")
        print(json.dumps({
            "schedules": [{"cron": s.schedule.cron, "timezone": s.schedule.timezone, "active": s.active}
                          for s in d.schedules],
            "concurrency_limit": d.global_concurrency_limit.limit if d.global_concurrency_limit else None,
            "work_pool": d.work_pool_name,
            "parameters": d.parameters,
            "entrypoint": d.entrypoint,
        }))
asyncio.run(main())
"""


@pytest.fixture(scope="module")
def prefect_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("prefect-server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env |= {"PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    server = subprocess.Popen([PREFECT, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{port}/api"
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{api}/health", timeout=2)
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                raise RuntimeError("prefect server did not start within 120 s")
            time.sleep(0.5)
    yield env | {"PREFECT_API_URL": api}
    server.terminate()
    server.wait(timeout=30)


def run(args, env):
    result = subprocess.run(args, cwd=ROOT, env=env | {"PWD": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_blocks_register_and_deploy_all_creates_the_nightly_deployment_with_its_schedule(prefect_server):
    registered = run([PREFECT, "block", "register", "-m", "blocks"], prefect_server)
    assert all(name in registered for name in ("arpilot SQL ledger", "arpilot file ledger", "arpilot AR warehouse",
                                               "arpilot company profile"))
    run([PREFECT, "work-pool", "create", "arpilot", "--type", "process"], prefect_server)
    run([PREFECT, "--no-prompt", "deploy", "--all"], prefect_server)
    deployment = json.loads(run([sys.executable, "-c", READ_DEPLOYMENT], prefect_server))
    assert deployment["schedules"] == [{"cron": "0 2 * * *", "timezone": "America/Chicago", "active": True}]
    assert deployment["concurrency_limit"] == 1
    assert deployment["work_pool"] == "arpilot"
    assert deployment["entrypoint"] == "flows/nightly.py:nightly"
    assert deployment["parameters"]["ledger"] == "arpilot-sql-ledger/arpilot"
