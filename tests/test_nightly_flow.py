"""The nightly flow on a real Prefect API: run name, artifacts a controller reads, and a failure that says what to do."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId
from pydantic import SecretStr

from blocks.company import CompanyProfile
from blocks.ledger import SqlLedgerSource
from blocks.warehouse import ArWarehouse
from flows.nightly import nightly
from tasks.sample_erp import generate


@pytest.fixture
def blocks(prefect_api, tmp_path):
    """Saved blocks under a unique name: company in Tokyo, a sample ERP, a fresh SQLite warehouse."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    generate(tmp_path / "erp.sqlite", invoices=500, seed=9)
    CompanyProfile(legal_name="Test Co", time_zone="Asia/Tokyo").save(name)
    SqlLedgerSource(source_name="test-erp", url=f"sqlite:///{tmp_path / 'erp.sqlite'}").save(name)
    ArWarehouse(url=f"sqlite:///{tmp_path / 'warehouse.sqlite'}").save(name)
    return {
        "ledger": f"arpilot-sql-ledger/{name}",
        "warehouse": f"arpilot-ar-warehouse/{name}",
        "company": f"arpilot-company-profile/{name}",
    }


async def _run_details(flow_run_id):
    async with get_client() as client:
        run = await client.read_flow_run(flow_run_id)
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
        )
        task_runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    return run, {a.key: a for a in artifacts}, task_runs


def test_nightly_run_is_named_by_the_company_date_and_leaves_its_artifacts(blocks):
    state = nightly(**blocks, return_state=True)
    assert state.is_completed()
    results = state.result()
    assert [r.entity for r in results] == ["customers", "contacts", "invoices", "payments", "credit_notes", "allocations"]
    assert all(r.reconciles for r in results)

    run, artifacts, task_runs = asyncio.run(_run_details(state.state_details.flow_run_id))
    today_in_tokyo = CompanyProfile.load(blocks["company"].split("/")[1]).today()
    assert run.name == f"nightly-{today_in_tokyo}"
    assert sorted(t.name for t in task_runs if t.name.startswith("sync-")) == sorted(
        f"sync-{r.entity}" for r in results)

    assert {"ledger-sync", "ledger-quarantine", "ledger-quarantine-reasons"} <= set(artifacts)
    sync_table = artifacts["ledger-sync"].data
    assert "invoices" in sync_table and "quarantined" in sync_table
    quarantine = artifacts["ledger-quarantine"]
    assert "quarantined in this run" in quarantine.description and str(run.id) in quarantine.description
    refused = [row for r in results for row in r.quarantine_sample]
    assert refused and all(row["row_ref"] in quarantine.data and row["reason"] in quarantine.data for row in refused)


def test_an_unreachable_ledger_fails_the_run_after_bounded_retries_without_leaking_the_password(blocks, caplog):
    name = blocks["ledger"].split("/")[1]
    SqlLedgerSource(source_name="erp-prod", url="postgresql+psycopg://ar@127.0.0.1:9/erp",
                    password=SecretStr("s3cret-Pa55"), retries=1, retry_delay_seconds=0).save(name, overwrite=True)
    state = nightly(**blocks, return_state=True)
    assert state.is_failed()
    assert "ledger source erp-prod (postgresql+psycopg://ar:***@127.0.0.1:9/erp) is unreachable" in state.message
    assert "Check that the database is up" in state.message
    _, _, task_runs = asyncio.run(_run_details(state.state_details.flow_run_id))
    customers = next(t for t in task_runs if t.name == "sync-customers")
    assert customers.run_count == 2  # the first try and one retry
    assert "s3cret" not in caplog.text and "s3cret" not in str(state.result(raise_on_failure=False))
