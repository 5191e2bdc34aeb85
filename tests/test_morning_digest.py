"""The morning digest's figures against a warehouse and a Prefect API with known content: the day's reminders by
outcome, what the plan held back (a rerun's skips counted once), rows quarantined since the window opened, the
arpilot deployments' failed runs; one email to the controller, which a rerun does not send again."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.states import Completed, Failed

from blocks import AlertEmail, ArWarehouse, CompanyProfile
from flows.digest import morning_digest
from tasks.alerts.digest import night_figures

NOW = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
DAY = NOW.date()  # the company day (the company profile's zone is UTC here)
CONTROLLER = "controller@northwind.example"


def stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


def fill(engine) -> None:
    """Reminders of DAY: 3 sent, 1 of unknown outcome, 1 failed, 1 owed, and one sent the day before; held back
    on DAY: 2 disputed (one seen by a rerun too) and 1 promise; quarantined: 2 invoices and 1 payment tonight,
    one invoice two days ago."""
    outbox = [(f"k{i}", status, DAY) for i, status in enumerate(["sent"] * 3 + ["unknown", "failed", "owed"])]
    outbox.append(("k-old", "sent", DAY - timedelta(days=1)))
    skips = [("run-1", "C1", "disputed"), ("run-2", "C1", "disputed"), ("run-1", "C2", "disputed"),
             ("run-1", "C3", "promise_to_pay")]
    quarantine = [("invoices", NOW - timedelta(hours=2)), ("invoices", NOW - timedelta(hours=2)),
                  ("payments", NOW - timedelta(hours=1)), ("invoices", NOW - timedelta(days=2))]
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO dunning_outbox (outbox_key, customer_id, currency, step, channel, planned_on, bucket, "
            "amount_cents, invoices, status, run_id, owner, lease_until, reserved_at) VALUES (:k, 'C1', 'USD', 15, "
            "'email', :d, '1-30', 100, 1, :s, 'run-1', 'host:1:0', :t, :t)"),
            [{"k": k, "s": s, "d": d, "t": stamp(NOW)} for k, s, d in outbox])
        conn.execute(sa.text(
            "INSERT INTO dunning_skips (run_id, planned_on, customer_id, currency, step, channel, bucket, reason) "
            "VALUES (:r, :d, :c, 'USD', 15, 'email', '1-30', :why)"),
            [{"r": r, "d": DAY, "c": c, "why": why} for r, c, why in skips])
        conn.execute(sa.text(
            "INSERT INTO quarantine (run_id, source, entity, seq, row_ref, reason, raw_row, quarantined_at) "
            "VALUES ('run-1', 'erp', :e, :n, :n, 'amount is not a number', '{}', :t)"),
            [{"e": e, "n": n, "t": stamp(t)} for n, (e, t) in enumerate(quarantine)])


@flow(name="nightly")
def nightly_stand_in() -> None:
    """A flow the nightly's runs are recorded under, in this API."""


async def record_runs() -> None:
    """A failed and a completed run of an arpilot deployment, and a failed run that is no arpilot deployment's."""
    async with get_client() as client:
        flow_id = await client.create_flow(nightly_stand_in)
        deployment = await client.create_deployment(flow_id=flow_id, name="nightly", tags=["arpilot", "nightly"])
        for name, state in (("nightly-failed", Failed(message="ledger source erp is unreachable. Runbook: "
                                                                  "README.md#runbook-ledger-unreachable")),
                            ("nightly-completed", Completed())):
            run = await client.create_flow_run_from_deployment(deployment, name=name, tags=["arpilot", "nightly"])
            await client.set_flow_run_state(run.id, state, force=True)
        other = await client.create_flow_run(nightly_stand_in, name="someone-elses", tags=["arpilot"])
        await client.set_flow_run_state(other.id, Failed(message="not ours"), force=True)


@pytest.mark.parametrize("warehouse_url", ["sqlite", "postgresql"], indirect=True)
def test_the_nights_figures_come_from_the_day_and_the_window(warehouse):
    fill(warehouse)
    digest = night_figures(warehouse, DAY, NOW - timedelta(hours=24))
    assert digest.sent == 4 and digest.reminders["failed"] == 1 and digest.reminders["owed"] == 1
    assert dict(digest.held_back) == {"disputed": 2, "promise_to_pay": 1}
    assert dict(digest.quarantined) == {"invoices": 2, "payments": 1}


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_the_digest_emails_the_controller_once_with_the_failed_runs(prefect_api, warehouse, warehouse_url, sandbox):
    fill(warehouse)
    asyncio.run(record_runs())
    name = f"digest-{uuid.uuid4().hex[:8]}"
    names = {"warehouse": f"arpilot-ar-warehouse/{name}", "company": f"arpilot-company-profile/{name}",
             "alert_email": f"arpilot-alert-email/{name}"}
    ArWarehouse(url=warehouse_url).save(name)
    CompanyProfile(legal_name="Northwind Components Ltd", time_zone="UTC").save(name)
    AlertEmail(email_channel=sandbox.email, to=[CONTROLLER]).save(name)

    first = morning_digest(**names)
    again = morning_digest(**names)
    assert len(first.sent) == 1 and again.sent == [] and len(again.already) == 1
    (mail,) = [m.message for m in sandbox.smtp.messages]
    assert mail["To"] == CONTROLLER
    assert mail["Subject"].startswith(f"arpilot night of {DAY}: 4 reminders sent, 3 held back, 3 rows quarantined, ")
    text = mail.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert "Reminders sent: 4; failed: 1; owed: 1\n" in text
    assert "Held back by the plan: 3: disputed 2, promise_to_pay 1\n" in text
    assert "Ledger rows quarantined: 3: invoices 2, payments 1\n" in text
    assert "- nightly-failed (Failed): ledger source erp is unreachable. Runbook: README.md#runbook-ledger" in text
    assert "/runs/flow-run/" in text  # each failed run's page
    assert "someone-elses" not in text and "nightly-completed" not in text
