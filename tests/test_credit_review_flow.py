"""The credit review against a real Prefect API, the approver's answer sent as the UI sends it: each sales rep is
emailed their accounts' proposals before the decision (a real SMTP relay); approve all writes the proposals' changes
with who and when and exports them; a partial override writes only it; a hold tells the rep; reject and silence
write nothing and say so."""

from __future__ import annotations

import json
import uuid
from datetime import date

import pytest
from dunning_cases import COMPANY, Ledger, seed
from prefect import resume_flow_run

from blocks.credit_policy import CreditPolicy
from blocks.report_recipients import ReportRecipients
from blocks.warehouse import ArWarehouse
from flows.credit_review import credit_review
from sandbox.paused_runs import paused_run, start_in_thread

pytestmark = pytest.mark.parametrize("warehouse_url", ["sqlite"], indirect=True)
AS_OF = date(2026, 11, 23)


@pytest.fixture
def env(prefect_api, warehouse, warehouse_url, tmp_path, sandbox):
    """C1 owes 30,000.00 on a 10,000.00 limit (over it: lower or hold); C2 owes little on a large limit (keep).
    Both are Sam's accounts; Sam has an address, Kim (no account under review) too."""
    name = f"c-{uuid.uuid4().hex[:8]}"
    recipients = ReportRecipients(sales_reps={"Sam Rep": "sam@northwind.example", "Kim Rep": "kim@northwind.example"})
    for block in (COMPANY, ArWarehouse(url=warehouse_url), CreditPolicy(export_dir=str(tmp_path / "credit")),
                  recipients, sandbox.email):
        block.save(name, overwrite=True)
    seed(warehouse, Ledger(AS_OF).customer("C1", "Acme Corp", sales_rep="Sam Rep").invoice("I1", "C1", 40, 3_000_000)
         .customer("C2", "Bolt LLC", sales_rep="Sam Rep").invoice("I2", "C2", -10, 10_000))
    with warehouse.begin() as conn:
        conn.exec_driver_sql("UPDATE customers SET credit_limit_cents = 1000000, currency = 'USD' "
                             "WHERE customer_id = 'C1'")
        conn.exec_driver_sql("UPDATE customers SET credit_limit_cents = 5000000, currency = 'USD' "
                             "WHERE customer_id = 'C2'")
    return {"warehouse": f"arpilot-ar-warehouse/{name}", "company": f"arpilot-company-profile/{name}",
            "credit_policy": f"arpilot-credit-policy/{name}", "recipients": f"arpilot-report-recipients/{name}",
            "email_channel": f"arpilot-email-channel/{name}"}, warehouse, sandbox.smtp


def start(blocks: dict, **params):
    return start_in_thread(lambda: credit_review(**blocks, as_of=AS_OF, **params, return_state=True))


def changes(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(
            "SELECT customer_id, limit_before_cents, limit_after_cents, hold_after, approved_by FROM "
            "credit_limit_changes ORDER BY customer_id")]


def mail_to(smtp, address: str) -> list:
    return [m.message for m in smtp.messages if address in m.rcpt_tos]


def test_approve_all_writes_the_proposals_with_who_and_exports_them(env, tmp_path):
    blocks, engine, smtp = env
    thread, outcome = start(blocks)
    run = paused_run(f"credit-review-all-{AS_OF}")
    assert changes(engine) == []  # nothing before the answer
    [letter] = mail_to(smtp, "sam@northwind.example")  # the rep hears of the proposal before the decision
    text = letter.get_body(("plain",)).get_content()
    assert letter["Subject"].startswith("Credit review: 1 proposal for your accounts, decided by ")
    assert "Acme Corp (C1)" in text and "Bolt LLC" not in text  # keep is not proposed
    assert f"arpilot credit comment --review {run.id} --customer <id>" in text
    assert mail_to(smtp, "kim@northwind.example") == []
    resume_flow_run(run.id, run_input={"decided_by": "Dana Controller", "approve_all": True, "overrides": [],
                                       "reject": False, "comment": ""})
    thread.join(60)
    state = outcome["state"]
    assert state.is_completed(), state.message
    [(customer, before, after, hold, by)] = changes(engine)
    assert (customer, before, by) == ("C1", 1_000_000, "Dana Controller")
    assert after < before or hold
    [export] = (tmp_path / "credit").glob("credit-limits-*.csv")
    assert export.read_text().splitlines()[1].startswith(f"{run.id}|C1,C1,USD,10000.00,")
    held = [m["Subject"] for m in mail_to(smtp, "sam@northwind.example")[1:]]
    assert held == (["Acme Corp (C1) is now on credit hold"] if hold else [])
    [decision] = table_on(run.id, "credit-review-decisions")
    assert (decision["customer"], decision["decision"]) == ("C1", "approved")
    assert decision["outcome"].startswith("limit $10,000.00 -> ") and decision["outcome"].endswith(f"{export}")


def table_on(run_id, key: str) -> list[dict]:
    """The run's latest table artifact of that key, as the UI shows it."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        [latest] = client.read_latest_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])))
    return json.loads(latest.data)


def test_a_sales_reps_comment_reaches_the_waiting_review_and_none_after_the_decision(env, capsys):
    from flows.cli import main

    blocks, engine, _ = env
    thread, outcome = start(blocks)
    run = paused_run(f"credit-review-all-{AS_OF}")
    comment = ["credit", "comment", "--review", str(run.id), "--by", "Sam Rep", "--warehouse", blocks["warehouse"]]
    assert main([*comment, "--customer", "C1", "--comment", "New owner since October; orders doubled"]) == 0
    assert main([*comment, "--customer", "C1", "--comment", "They asked for 30 more days"]) == 0
    assert table_on(run.id, "credit-review-comments") == [{"customer": "C1", "proposal": outcome_of_c1(engine, run.id),
                                    "sales comments": "Sam Rep: New owner since October; orders doubled\n"
                                                      "Sam Rep: They asked for 30 more days"}]
    assert main([*comment, "--customer", "C2", "--comment", "fine"]) == 1  # keep: nothing proposed
    assert f"review {run.id} proposes nothing for C2" in capsys.readouterr().err
    resume_flow_run(run.id, run_input={"decided_by": "Dana", "approve_all": False, "reject": True, "comment": "",
                                       "overrides": []})
    thread.join(60)
    assert outcome["state"].is_completed()
    assert main([*comment, "--customer", "C1", "--comment", "too late"]) == 1
    assert "is already decided (rejected): tell the approver directly" in capsys.readouterr().err


def outcome_of_c1(engine, review_id) -> str:
    with engine.connect() as conn:
        return conn.exec_driver_sql("SELECT recommendation FROM credit_proposals WHERE customer_id = 'C1' AND "
                                    f"review_id = '{review_id}'").scalar()


def test_a_partial_override_writes_only_it(env):
    blocks, engine, smtp = env
    thread, outcome = start(blocks)
    run = paused_run(f"credit-review-all-{AS_OF}")
    resume_flow_run(run.id, run_input={"decided_by": "Dana", "approve_all": False, "reject": False, "comment": "",
                                       "overrides": [{"customer_id": "C1", "limit": "20000.00", "hold": None,
                                                      "why": "sales: a seasonal peak"}]})
    thread.join(60)
    assert outcome["state"].is_completed()
    assert changes(engine) == [("C1", 1_000_000, 2_000_000, False, "Dana")]
    assert len(mail_to(smtp, "sam@northwind.example")) == 1  # the proposals; no hold, so no second email


def test_an_approved_hold_tells_the_rep_once(env):
    blocks, engine, smtp = env
    thread, outcome = start(blocks)
    run = paused_run(f"credit-review-all-{AS_OF}")
    resume_flow_run(run.id, run_input={"decided_by": "Dana", "approve_all": False, "reject": False, "comment": "",
                                       "overrides": [{"customer_id": "C1", "limit": None, "hold": True,
                                                      "why": "three broken promises"}]})
    thread.join(60)
    assert outcome["state"].is_completed()
    [_, held] = mail_to(smtp, "sam@northwind.example")
    assert held["Subject"] == "Acme Corp (C1) is now on credit hold"
    assert "Approved by Dana: three broken promises" in held.get_body(("plain",)).get_content()


@pytest.mark.parametrize("answer", ["reject", "silence"])
def test_a_rejection_or_silence_changes_nothing_and_says_so(env, answer):
    blocks, engine, _ = env
    thread, outcome = start(blocks, **({"answer_seconds": 1} if answer == "silence" else {}))
    if answer == "reject":
        run = paused_run(f"credit-review-all-{AS_OF}")
        resume_flow_run(run.id, run_input={"decided_by": "Dana", "approve_all": True, "reject": True,
                                           "comment": "after the audit", "overrides": []})
    thread.join(90)
    state = outcome["state"]
    assert state.is_completed(), state.message
    assert changes(engine) == []
    with engine.connect() as conn:
        [status] = conn.exec_driver_sql("SELECT status FROM credit_reviews").scalars()
    assert status == {"reject": "rejected", "silence": "timed_out"}[answer]
    if answer == "silence":
        assert state.message == "no answer: nothing changed"


def test_the_approver_sees_a_limit_in_force_the_erp_has_not_imported(env):
    blocks, engine, _ = env
    with engine.begin() as conn:  # last month's approval raised C1 to 15,000.00; the ERP still shows 10,000.00
        conn.exec_driver_sql(
            "INSERT INTO credit_limit_changes (change_id, customer_id, currency, limit_before_cents, limit_after_cents, "
            "hold_before, hold_after, ledger_limit_cents, ledger_hold, review_id, approved_by, approved_at, why) "
            "VALUES ('old|C1', 'C1', 'USD', 1000000, 1500000, FALSE, FALSE, 1000000, FALSE, 'old', 'Dana', "
            "'2026-10-01 09:00:00', 'a seasonal peak')")
    thread, outcome = start(blocks)
    run = paused_run(f"credit-review-all-{AS_OF}")
    [row] = table_on(run.id, "credit-review")
    assert row["customer"] == "C1" and row["recommendation"] in ("hold", "lower")
    assert row["limit"] == "$15,000.00 (approved; the ERP still shows $10,000.00)"
    resume_flow_run(run.id, run_input={"decided_by": "Dana", "approve_all": False, "reject": True, "comment": "",
                                       "overrides": []})
    thread.join(60)
    assert outcome["state"].is_completed()


def review_status(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql("SELECT status, comment FROM credit_reviews")]


def test_a_review_with_nothing_to_propose_ends_at_once(env):
    blocks, engine, smtp = env
    state = credit_review(**blocks, as_of=AS_OF, customer="C2", return_state=True)  # C2 keeps its limit
    assert state.is_completed() and state.message == "nothing to decide: every customer keeps their limit"
    assert review_status(engine) == [("nothing_proposed", None)] and smtp.messages == []


def test_an_answer_without_a_name_changes_nothing_and_ends_the_review(env):
    blocks, engine, _ = env
    thread, outcome = start(blocks)
    run = paused_run(f"credit-review-all-{AS_OF}")
    resume_flow_run(run.id, run_input={"decided_by": " ", "approve_all": True, "reject": False, "comment": "",
                                       "overrides": []})
    thread.join(60)
    state = outcome["state"]
    assert state.is_completed() and state.message.startswith("nothing approved: no name given")
    assert changes(engine) == []
    assert review_status(engine) == [("not_decided", "no name given: nothing is approved without who approves it")]
