"""The nightly flow on a real Prefect API: run name, artifacts a controller reads, and a failure that says what to do."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from postgres_server import password_login
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import BlockDocumentUpdate
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId
from pydantic import SecretStr

from blocks.company import CompanyProfile
from blocks.contact_policy import ContactPolicy
from blocks.dunning_policy import DunningPolicy
from blocks.ledger import SqlLedgerSource
from blocks.warehouse import ArWarehouse
from flows.dunning import dunning
from flows.kpi_reports import kpi_reports
from flows.nightly import nightly
from sandbox.sample_erp import generate
from tasks.ledger.entities import ENTITIES
from tasks.ledger.sync import sync_entity


@pytest.fixture
def blocks(prefect_api, tmp_path, sandbox):
    """Saved blocks under a unique name: company in Tokyo, a sample ERP, a fresh SQLite warehouse, the default
    contact and dunning policies, and email / SMS channels on loopback servers."""
    name = f"t-{uuid.uuid4().hex[:8]}"
    generate(tmp_path / "erp.sqlite", invoices=500, seed=9)
    CompanyProfile(legal_name="Test Co", time_zone="Asia/Tokyo").save(name)
    SqlLedgerSource(source_name="test-erp", url=f"sqlite:///{tmp_path / 'erp.sqlite'}").save(name)
    ArWarehouse(url=f"sqlite:///{tmp_path / 'warehouse.sqlite'}").save(name)
    ContactPolicy(output_dir=str(tmp_path / "out")).save(name)
    DunningPolicy(output_dir=str(tmp_path / "dunning"), escalation_to=["ar-manager@test.example"],
                  retry_backoff_seconds=[0]).save(name)
    sandbox.email.save(name)
    sandbox.phone.save(name)
    return {
        "erp": tmp_path / "erp.sqlite",
        "sandbox": sandbox,
        "params": {
            "ledger": f"arpilot-sql-ledger/{name}",
            "warehouse": f"arpilot-ar-warehouse/{name}",
            "company": f"arpilot-company-profile/{name}",
            "contact_policy": f"arpilot-contact-policy/{name}",
            "dunning_policy": f"arpilot-dunning-policy/{name}",
            "email_channel": f"arpilot-email-channel/{name}",
            "twilio_channel": f"arpilot-twilio-channel/{name}",
        },
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
    state = nightly(**blocks["params"], return_state=True)
    assert state.is_completed()
    results = state.result().sync
    assert [r.entity for r in results] == ["customers", "contacts", "invoices", "payments", "credit_notes", "allocations",
                                         "exchange_rates"]
    assert all(r.reconciles for r in results)

    run, artifacts, task_runs = asyncio.run(_run_details(state.state_details.flow_run_id))
    today_in_tokyo = CompanyProfile.load(blocks["params"]["company"].split("/")[1]).today()
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
    name = blocks["params"]["ledger"].split("/")[1]
    SqlLedgerSource(source_name="erp-prod", url="postgresql+psycopg://ar@127.0.0.1:9/erp",
                    password=SecretStr("s3cret-Pa55"), retries=1, retry_delay_seconds=0).save(name, overwrite=True)
    state = nightly(**blocks["params"], return_state=True)
    assert state.is_failed()
    assert "ledger source erp-prod (postgresql+psycopg://ar:***@127.0.0.1:9/erp) is unreachable" in state.message
    assert "Check that the database is up" in state.message
    _, _, task_runs = asyncio.run(_run_details(state.state_details.flow_run_id))
    customers = next(t for t in task_runs if t.name == "sync-customers")
    assert customers.run_count == 2  # the first try and one retry
    assert "s3cret" not in caplog.text and "s3cret" not in str(state.result(raise_on_failure=False))


def test_a_ledger_that_refuses_the_password_fails_the_run_at_once_without_retrying(blocks, postgres_url):
    name = blocks["params"]["ledger"].split("/")[1]
    with password_login(postgres_url) as url:
        SqlLedgerSource(source_name="erp-prod", url=url, password=SecretStr("wrong-Pa55word"), retries=3,
                        retry_delay_seconds=0).save(name, overwrite=True)
        state = nightly(**blocks["params"], return_state=True)
    assert state.is_failed()
    assert "refused the login" in state.message and "password authentication failed" in state.message
    assert f"the password in block arpilot-sql-ledger/{name}; this is not retried" in state.message
    assert "wrong-Pa55" not in state.message
    _, _, task_runs = asyncio.run(_run_details(state.state_details.flow_run_id))
    assert next(t for t in task_runs if t.name == "sync-customers").run_count == 1


def _break_every_contact(erp) -> None:
    """Nobody has verified a contact for years: every AP contact fails verified_recently."""
    with closing(sqlite3.connect(erp)) as conn, conn:
        conn.execute("UPDATE contact SET verified_on = '2019-01-31'")


def test_a_broken_contact_list_fails_the_run_before_dunning_and_says_where_the_worklist_is(blocks):
    _break_every_contact(blocks["erp"])
    state = nightly(**blocks["params"], return_state=True)
    assert state.is_failed()
    assert "Contact gate closed" in state.message and "Dunning did not run and nothing was sent" in state.message
    assert "the limit is 20% (max_failing_share in block arpilot-contact-policy/" in state.message
    assert "verified_recently" in state.message and "contact-cleanup-" in state.message
    assert state.message.endswith("Runbook: README.md#runbook-contact-gate-closed")
    _, artifacts, task_runs = asyncio.run(_run_details(state.state_details.flow_run_id))
    state_of = {name: t.state for t in task_runs for name in ("check-contacts", "contact-gate")
                if t.name.startswith(name)}
    assert state_of["check-contacts"].is_completed() and state_of["contact-gate"].is_failed()
    assert "**Gate closed**" in artifacts["contact-quality"].data
    assert any((key or "").startswith("contact-cleanup-") for key in artifacts)


def test_a_healthy_contact_list_opens_the_gate_and_the_run_goes_on(blocks):
    state = nightly(**blocks["params"], return_state=True)
    assert state.is_completed()
    result = state.result()
    assert not result.gate.closed and result.gate.failing_share <= 0.20
    assert result.contacts.worklist_rows > 0  # the generator's bad contacts are on the worklist
    _, artifacts, task_runs = asyncio.run(_run_details(state.state_details.flow_run_id))
    assert any(t.name.startswith("contact-gate") and t.state.is_completed() for t in task_runs)
    assert "**Gate open**" in artifacts["contact-quality"].data


def test_a_ledger_that_would_delete_many_open_invoices_stops_the_run_until_a_run_confirms_it(blocks):
    name = blocks["params"]["ledger"].split("/")[1]
    engine = ArWarehouse.load(name).engine()
    for entity in ENTITIES:
        sync_entity(SqlLedgerSource.load(name), engine, entity, "last-night")
    with closing(sqlite3.connect(blocks["erp"])) as conn, conn:
        conn.execute("DELETE FROM invoice WHERE doc_no IN (SELECT doc_no FROM invoice WHERE status = 'open' AND doc_no "
                     "NOT IN (SELECT invoice_doc_no FROM allocation) ORDER BY doc_no LIMIT 10)")

    state = nightly(**blocks["params"], return_state=True)
    assert state.is_failed()
    assert "would mark 10 invoice(s) deleted" in state.message
    assert f"(max_deleted_share in block arpilot-sql-ledger/{name})" in state.message
    assert "running the nightly flow once with the parameter confirm_deleted_invoices=10" in state.message
    _, _, task_runs = asyncio.run(_run_details(state.state_details.flow_run_id))
    assert {t.name for t in task_runs} >= {"sync-customers", "sync-contacts", "sync-invoices"}
    assert not {t.name for t in task_runs} & {"sync-payments", "sync-allocations", "publish-sync-artifacts"}
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM invoices WHERE status = 'deleted'")).scalar() == 0

    confirmed = nightly(**blocks["params"], confirm_deleted_invoices=10, return_state=True)
    assert confirmed.is_completed()
    assert next(r for r in confirmed.result().sync if r.entity == "invoices").deleted == 10


async def _corrupt_block_document(slug_and_name: str, **values) -> None:
    """Change a saved block document's values the way the UI does: on the server, with no arpilot validation."""
    async with get_client() as client:
        document = await client.read_block_document_by_name(slug_and_name.split("/")[1], slug_and_name.split("/")[0])
        await client.update_block_document(document.id, BlockDocumentUpdate(data={**document.data, **values}))


@pytest.mark.parametrize("run", ["nightly", "dunning", "kpi-reports"])
def test_an_invalid_block_saved_from_the_ui_names_the_run_and_fails_at_once_naming_block_and_field(blocks, run):
    params = blocks["params"]
    asyncio.run(_corrupt_block_document(params["company"], time_zone="Mars/Olympus"))
    flows = {"nightly": (nightly, params),
             "dunning": (dunning, {k: v for k, v in params.items() if k != "ledger"}),
             "kpi-reports": (kpi_reports, {"company": params["company"], "warehouse": params["warehouse"]})}
    flow, arguments = flows[run]
    state = flow(**arguments, return_state=True)
    assert state.is_failed()
    assert (f"block {params['company']} is invalid: field time_zone: time_zone 'Mars/Olympus' is not an IANA time "
            "zone") in state.message
    flow_run, _, task_runs = asyncio.run(_run_details(state.state_details.flow_run_id))
    today = datetime.now(UTC).date()  # what and when, though the company's calendar cannot be known
    assert flow_run.name == {"nightly": f"nightly-{today}", "dunning": f"dunning-{today}",
                             "kpi-reports": f"kpi-reports-week-to-{today - timedelta(days=1)}"}[run]
    assert task_runs == []  # nothing ran before the block was refused


def test_with_an_escalation_policy_the_nightly_tells_of_disputes_and_records_promises_before_dunning_holds_them(blocks):
    from blocks.escalation_policy import EscalationPolicy
    from blocks.report_recipients import ReportRecipients

    name = blocks["params"]["warehouse"].split("/")[1]
    EscalationPolicy(ar_managers=["ar-manager@test.example"]).save(name)
    ReportRecipients().save(name)
    escalation = {"escalation_policy": f"arpilot-escalation-policy/{name}",
                  "recipients": f"arpilot-report-recipients/{name}"}
    assert nightly(**blocks["params"], **escalation, dry_run=True, return_state=True).is_completed()
    engine = sa.create_engine(ArWarehouse.load(name).url)
    with engine.connect() as conn:  # a dry run records the ledger's disputes but tells nobody
        assert conn.execute(sa.text("SELECT COUNT(*) FROM staff_notices")).scalar() == 0
        assert conn.execute(sa.text("SELECT COUNT(*) FROM invoice_disputes WHERE announced_at IS NULL")).scalar() > 0
    state = nightly(**blocks["params"], **escalation, return_state=True)
    assert state.is_completed()
    with engine.connect() as conn:
        open_disputes, told = conn.execute(sa.text(
            "SELECT COUNT(*), COUNT(n.notice_key) FROM invoice_disputes d LEFT JOIN staff_notices n ON n.notice_key = "
            "'dispute|' || d.dispute_id || '|opened|manager' AND n.status = 'sent' WHERE d.closed_at IS NULL")).one()
        assert open_disputes > 0 and told == open_disputes  # the AR manager heard of every dispute, here at once
        promised = conn.execute(sa.text(
            "SELECT COUNT(*) FROM (SELECT DISTINCT customer_id, currency, promise_to_pay_date FROM invoices "
            "WHERE status = 'open' AND open_cents > 0 AND promise_to_pay_date IS NOT NULL) p")).scalar()
        recorded = conn.execute(sa.text("SELECT COUNT(*) FROM promises WHERE source = 'ledger'")).scalar()
        held = conn.execute(sa.text(
            "SELECT COUNT(*) FROM dunning_skips WHERE reason = 'promise to pay active'")).scalar()
    engine.dispose()
    assert promised > 0 and recorded == promised and held > 0
