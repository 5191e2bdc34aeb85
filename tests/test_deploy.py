"""`prefect deploy --all` against a real local Prefect server: the deployments in prefect.yaml are valid."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from prefect_server import PREFECT, prefect_server

ROOT = Path(__file__).resolve().parent.parent

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
def server_env(tmp_path_factory):
    with prefect_server(tmp_path_factory.mktemp("prefect-server")) as env:
        yield env


def run(args, env):
    result = subprocess.run(args, cwd=ROOT, env=env | {"PWD": str(ROOT)}, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_blocks_register_and_deploy_all_creates_the_nightly_deployment_with_its_schedule(server_env):
    registered = run([PREFECT, "block", "register", "-m", "blocks"], server_env)
    assert all(name in registered for name in ("arpilot SQL ledger", "arpilot file ledger", "arpilot AR warehouse",
                                               "arpilot company profile"))
    run([PREFECT, "work-pool", "create", "arpilot", "--type", "process"], server_env)
    run([PREFECT, "--no-prompt", "deploy", "--all"], server_env)
    deployment = json.loads(run([sys.executable, "-c", READ_DEPLOYMENT], server_env))
    assert deployment["schedules"] == [{"cron": "0 2 * * *", "timezone": "America/Chicago", "active": True}]
    assert deployment["concurrency_limit"] == 1
    assert deployment["work_pool"] == "arpilot"
    assert deployment["entrypoint"] == "flows/nightly.py:nightly"
    assert deployment["parameters"]["ledger"] == "arpilot-sql-ledger/arpilot"

    # the alerts come next on the deploy path; they need their block first, and say which
    alerts = subprocess.run([sys.executable, "-m", "flows.cli", "alerts", "install"], cwd=ROOT, env=server_env,
                            capture_output=True, text=True, timeout=300)
    assert alerts.returncode == 1
    assert "block arpilot-alert-email/arpilot does not exist" in alerts.stderr and "arpilot alerts install" in alerts.stderr
