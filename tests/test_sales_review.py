"""The sales rep's answer in the Prefect UI: a sales-review run waits (Paused) with a form per account; resuming
it with the form's values, as the UI does, records each choice with who and why; nobody answering lets the run
complete saying so, and records nothing (silence means proceed)."""

from __future__ import annotations

import json
import uuid
from datetime import date

import pandas as pd
import pytest
from dunning_cases import COMPANY, TODAY, Ledger, seed
from prefect import resume_flow_run
from prefect.client.orchestration import get_client

from blocks.escalation_policy import EscalationPolicy
from blocks.warehouse import ArWarehouse
from flows.sales_review import sales_review
from sandbox.paused_runs import paused_run, start_in_thread
from tasks import warehouse as wh
from tasks.sales.heads_up import ASK_COLUMNS
from tasks.sales.reviews import record_asks

FINAL_ON = date(2026, 11, 28)
ACCOUNTS = [{"customer_id": c, "customer_name": n, "currency": "USD", "step": 60, "final_on": FINAL_ON.isoformat()}
            for c, n in (("C1", "Acme Corp"), ("C2", "Bolt LLC"))]


@pytest.fixture
def env(prefect_api, warehouse, warehouse_url):
    name = f"r-{uuid.uuid4().hex[:8]}"
    for block in (COMPANY, ArWarehouse(url=warehouse_url), EscalationPolicy(ar_managers=["ar@northwind.example"])):
        block.save(name, overwrite=True)
    seed(warehouse, Ledger().customer("C1", "Acme Corp").invoice("I1", "C1", 55).customer("C2", "Bolt LLC")
         .invoice("I2", "C2", 55))
    with warehouse.begin() as conn:
        record_asks(conn, pd.DataFrame([(a["customer_id"], "USD", 60, FINAL_ON, "Rita Reyes", a["customer_name"])
                                        for a in ACCOUNTS], columns=ASK_COLUMNS), "2026-11-23 16:00:00")
    return {"warehouse": f"arpilot-ar-warehouse/{name}", "company": f"arpilot-company-profile/{name}",
            "escalation_policy": f"arpilot-escalation-policy/{name}"}


def start_review(blocks: dict, rep: str, **params):
    return start_in_thread(lambda: sales_review(rep, TODAY, ACCOUNTS, **blocks, **params, return_state=True))


def decisions(blocks: dict) -> dict:
    engine = ArWarehouse.load(blocks["warehouse"].split("/")[1]).engine()
    with engine.connect() as conn:
        frame = wh.query_frame(conn, "SELECT customer_id, decision, decided_by, reason, hold_until, decided_at "
                                     "FROM final_notice_reviews")
    engine.dispose()
    frame = frame.astype(object).where(frame.notna(), None)
    return {r["customer_id"]: r for r in frame.to_dict("records")}


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_the_reps_answer_in_the_ui_is_recorded_with_who_and_why(env):
    thread, outcome = start_review(env, "Rita Reyes")
    run = paused_run(f"sales-review-Rita Reyes-{TODAY}")
    keyset = run.state.state_details.run_input_keyset
    with get_client(sync_client=True) as client:  # what the UI shows: the accounts, each on proceed
        form = json.loads(client.read_flow_run_input(run.id, keyset["schema"]))
        description = client.read_flow_run_input(run.id, keyset["description"])
    assert [(d["customer_id"], d["choice"]) for d in form["properties"]["decisions"]["default"]] == [
        ("C1", "proceed"), ("C2", "proceed")]
    assert "Acme Corp (C1), USD: final notice (step 60) on 2026-11-28" in description
    resume_flow_run(run.id, run_input={"decided_by": "Rita Reyes", "decisions": [
        {"customer_id": "C1", "currency": "USD", "choice": "hold", "reason": "renewal signed, paying with it"},
        {"customer_id": "C2", "currency": "USD", "choice": "soften", "reason": ""}]})
    thread.join(60)
    state = outcome["state"]
    assert state.is_completed(), state.message
    recorded = decisions(env)
    c1 = recorded["C1"]
    assert (c1["decision"], c1["decided_by"], c1["reason"]) == ("hold", "Rita Reyes", "renewal signed, paying with it")
    assert c1["decided_at"] is not None and str(c1["hold_until"]) > str(date.today())
    assert recorded["C2"]["decision"] is None  # soften without a reason is refused, shown in the artifact
    assert [r.refused for r in state.result()] == [None, "'soften' needs a reason"]


@pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
def test_when_nobody_answers_the_run_completes_proceeding_and_records_nothing(env):
    thread, outcome = start_review(env, "Sam Stone", answer_seconds=1)
    thread.join(90)
    state = outcome["state"]
    assert state.is_completed() and state.message == "no answer: proceeding"
    assert {c: r["decision"] for c, r in decisions(env).items()} == {"C1": None, "C2": None}
