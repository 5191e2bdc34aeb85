"""Scale-out on Dask: send batches and contact normalisation run in the worker processes of a Dask cluster (two
processes, one thread each, shared by the module; a real `prefect server`, as Dask workers need one), and exactly
once still holds: every reminder reaches the real SMTP relay and Twilio API once, also when the flow process is
killed with SIGKILL, taking the Dask workers it started with it, in the middle of the sends."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from crash_runs import finished, started
from distributed import LocalCluster
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect_server import prefect_server
from test_contact_checks import load_ledger
from test_dunning_crash import Scenario, assert_each_message_arrived_once, expected_messages, seeded_warehouse
from test_dunning_crash import crash_ledger as ledger

from blocks.warehouse import ArWarehouse, create_warehouse_engine, migrate
from sandbox.store import sequenced
from tasks.claims import owner_alive
from tasks.contacts import checks
from tasks.scale_out import LOCAL_DASK, THREADS

pytestmark = pytest.mark.xdist_group("test_scale_out")  # one worker builds the module's fixtures once


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A real Prefect API for this module's runs and a Dask LocalCluster of two worker processes; yields the
    scheduler's address and the workers' pids."""
    with prefect_server(tmp_path_factory.mktemp("prefect")) as env, \
            temporary_settings({PREFECT_API_URL: env["PREFECT_API_URL"]}), \
            LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None) as dask, \
            dask.get_client() as client:
        yield dask.scheduler_address, set(client.run(os.getpid).values())


@pytest.fixture(scope="module")
def template(cluster, tmp_path_factory):
    folder = tmp_path_factory.mktemp("scale-out-template")
    seeded_warehouse(folder, ledger())
    return (folder / "warehouse.sqlite").read_bytes()


@pytest.fixture
def scenario(template, tmp_path):
    made = []

    def make(task_runner: str) -> Scenario:
        (tmp_path / "warehouse.sqlite").write_bytes(template)
        made.append(Scenario(tmp_path, f"sqlite:///{tmp_path / 'warehouse.sqlite'}", faults=0))
        made[-1].params["task_runner"] = task_runner
        return made[-1]

    yield make
    for s in made:
        s.close()


def owners(s: Scenario) -> set[str]:
    with s.engine.connect() as conn:
        return set(conn.execute(sa.text("SELECT DISTINCT owner FROM dunning_outbox")).scalars())


def test_send_batches_run_in_the_dask_workers_and_reach_relay_and_twilio_once(cluster, scenario):
    address, worker_pids = cluster
    s = scenario(address)
    planned = expected_messages(s)
    finished(s.run(), timeout=180)
    assert_each_message_arrived_once(s, planned)
    assert set(s.outbox().values()) == {"sent"}
    # Every batch reserved its messages from a Dask worker process, both workers took batches.
    assert {int(owner.split(":")[1]) for owner in owners(s)} == worker_pids
    with get_client(sync_client=True) as client:
        results = ArtifactFilter(key=ArtifactFilterKey(any_=["dunning-results"]))
        [artifact] = client.read_artifacts(artifact_filter=results, limit=1, sort="CREATED_DESC")
    assert f"the batches ran on Dask cluster at {address} (2 worker processes, 2 threads)" in artifact.data


def normalised(folder: Path, task_runner: str) -> pd.DataFrame:
    url = f"sqlite:///{folder / 'warehouse.sqlite'}"
    engine = create_warehouse_engine(url)
    migrate(engine)
    load_ledger(engine)
    assert flow(checks.normalize_changed_contacts)(ArWarehouse(url=url), "America/Chicago", task_runner) > 20
    with engine.connect() as conn:
        profiles = pd.read_sql("SELECT * FROM contact_profiles ORDER BY contact_id", conn)
    engine.dispose()
    return profiles.drop(columns="normalized_at")


def test_contact_normalisation_on_dask_gives_what_threads_give(cluster, tmp_path, monkeypatch):
    monkeypatch.setattr(checks, "CONTACTS_PER_TASK", 4)  # several parts, so both workers normalise some
    (tmp_path / "threads").mkdir()
    (tmp_path / "dask").mkdir()
    on_threads = normalised(tmp_path / "threads", THREADS)
    on_dask = normalised(tmp_path / "dask", cluster[0])
    pd.testing.assert_frame_equal(on_dask, on_threads)
    assert on_dask["email_problem"].notna().sum() >= 3 and on_dask["phone_e164"].str.startswith("+49").any()


def deliveries(s: Scenario) -> int:
    received = s.folder / "received"
    return len(sequenced(received / "mail", ".eml")) + len(sequenced(received / "twilio", ".json"))


def test_flow_killed_with_its_dask_workers_mid_send_and_run_again_sends_each_message_once(cluster, scenario):
    """The flow process starts its own cluster ("dask"), so its workers die with it, when half the messages have
    arrived; the run after it settles what they left, on the shared cluster."""
    s = scenario(LOCAL_DASK)
    planned = expected_messages(s)
    after = max(1, round(0.5 * (sum(m.channel in ("email", "sms", "voice") for m in planned) + 1)))  # + digest
    run = s.run()
    assert started(run)
    deadline = time.monotonic() + 150
    while deliveries(s) < after and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    run.kill()
    run.communicate(timeout=60)
    sent = sum(status == "sent" for status in s.outbox().values())
    assert deliveries(s) and sent < len(planned), "the kill did not land during the sends"
    left = owners(s)
    time.sleep(2)
    assert not any(owner_alive(owner) for owner in left), "a Dask worker outlived the flow process that started it"
    s.params["task_runner"] = cluster[0]
    s.settle()
    assert_each_message_arrived_once(s, planned)
